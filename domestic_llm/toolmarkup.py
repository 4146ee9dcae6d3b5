"""Tool calls recovered from text markup, for servers whose tool parser is missing or wrong.

Without the right `--tool-call-parser` a server passes the model's raw tool-call
markup through as answer text. Three markups are recognised, whatever the model
is called (private deployments rename models, and a distill may use its base
model's markup):

* Qwen / hermes: `<tool_call>{"name": "f", "arguments": {...}}</tool_call>`
* DeepSeek: `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{...}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>`
  (V3 / R1) or `…<｜tool▁call▁begin｜>f<｜tool▁sep｜>{...}<｜tool▁call▁end｜>…` (V3.1+)
* Kimi: `<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{...}<|tool_call_end|><|tool_calls_section_end|>`

`MarkupParser` works on a stream: text outside markup passes through at once,
except a tail that could still be the start of a marker (at most the longest
marker's length minus one); a block is held until its end marker and then becomes
tool calls. Arguments are returned as raw JSON text; arguments that are not valid
JSON stay as they are, for the adapters to report as invalid tool calls.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass


# DeepSeek's markers use U+FF5C (fullwidth vertical line) and U+2581 (lower one eighth block)
DS_CALLS_BEGIN, DS_CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
DS_CALL_BEGIN, DS_CALL_END, DS_SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"
KIMI_SECTION_BEGIN, KIMI_SECTION_END = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
KIMI_CALL_BEGIN, KIMI_CALL_END, KIMI_ARGS = "<|tool_call_begin|>", "<|tool_call_end|>", "<|tool_call_argument_begin|>"
HERMES_BEGIN, HERMES_END = "<tool_call>", "</tool_call>"


@dataclass(slots=True)
class TextToolCall:
    """A tool call read from markup; `arguments` is JSON text (possibly invalid, then reported as such)."""

    id: str
    name: str
    arguments: str


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.S)
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_ARGS = re.compile(r'"(?:arguments|parameters)"\s*:\s*(.*)\}\s*$', re.S)


def _unfence(text: str) -> str:
    match = _FENCE.match(text)
    return (match.group(1) if match else text).strip()


def _json_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value if value is not None else {}, ensure_ascii=False)


def parse_hermes(body: str) -> list[TextToolCall]:
    body = _unfence(body)
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        args = obj["arguments"] if "arguments" in obj else obj.get("parameters")
        return [TextToolCall(new_call_id(), obj["name"], _json_text(args))]
    if not body:
        return []
    # not JSON: keep the raw arguments text (or the whole body) so the call is reported as invalid, not lost
    name = _NAME.search(body)
    args = _ARGS.search(body)
    return [TextToolCall(new_call_id(), name.group(1) if name else "", args.group(1).strip() if args else body)]


def parse_deepseek_call(body: str) -> list[TextToolCall]:
    head, sep, rest = body.partition(DS_SEP)
    if not sep:
        return [TextToolCall(new_call_id(), "", body.strip())] if body.strip() else []
    if head.strip() == "function":  # V3 / R1: function<sep>name\n```json\n{...}\n```
        name, _, args = rest.partition("\n")
    else:  # V3.1+: name<sep>{...}
        name, args = head, rest
    return [TextToolCall(new_call_id(), name.strip(), _unfence(args))]


def parse_deepseek_section(body: str) -> list[TextToolCall]:
    calls: list[TextToolCall] = []
    for part in body.split(DS_CALL_BEGIN)[1:]:
        calls += parse_deepseek_call(part.split(DS_CALL_END, 1)[0])
    return calls


def parse_kimi_call(body: str) -> list[TextToolCall]:
    head, sep, args = body.partition(KIMI_ARGS)
    call_id = head.strip()
    # `functions.get_weather:0`: the model's own id, which its template expects back
    name = call_id.rsplit(":", 1)[0]
    name = name.split(".", 1)[1] if name.startswith("functions.") else name
    if not sep:
        return [TextToolCall(call_id or new_call_id(), name, "")] if call_id else []
    return [TextToolCall(call_id or new_call_id(), name, _unfence(args))]


def parse_kimi_section(body: str) -> list[TextToolCall]:
    calls: list[TextToolCall] = []
    for part in body.split(KIMI_CALL_BEGIN)[1:]:
        calls += parse_kimi_call(part.split(KIMI_CALL_END, 1)[0])
    return calls


@dataclass(frozen=True, slots=True)
class Markup:
    name: str
    begin: str
    end: str
    parse: Callable[[str], list[TextToolCall]]


MARKUPS: tuple[Markup, ...] = (
    Markup("hermes", HERMES_BEGIN, HERMES_END, parse_hermes),
    Markup("deepseek", DS_CALLS_BEGIN, DS_CALLS_END, parse_deepseek_section),
    Markup("deepseek", DS_CALL_BEGIN, DS_CALL_END, parse_deepseek_call),  # section markers left out
    Markup("kimi", KIMI_SECTION_BEGIN, KIMI_SECTION_END, parse_kimi_section),
    Markup("kimi", KIMI_CALL_BEGIN, KIMI_CALL_END, parse_kimi_call),
)
_LONGEST_BEGIN = max(len(m.begin) for m in MARKUPS)
_BEGIN_PREFIXES = frozenset(m.begin[:k] for m in MARKUPS for k in range(1, len(m.begin)))


def _held_prefix(text: str) -> int:
    """Length of the longest tail of `text` that is a proper prefix of some begin marker."""
    start = text.find("<", max(0, len(text) - _LONGEST_BEGIN + 1))
    while start >= 0:
        if text[start:] in _BEGIN_PREFIXES:
            return len(text) - start
        start = text.find("<", start + 1)
    return 0


class MarkupParser:
    """Streaming splitter of one choice's answer text into plain text and tool calls.

    `feed(text)` returns `(text_to_show, completed_calls)`; `flush()` does the same at
    the end of the answer. Whitespace right after a block is dropped (it only
    separates blocks). An unterminated block is parsed as far as it goes; if that
    yields nothing, its raw text is given back as answer text, never lost.
    """

    __slots__ = ("pending", "block", "after_block", "found")

    def __init__(self) -> None:
        self.pending = ""  # a possible begin-marker prefix, or the body of an open block
        self.block: Markup | None = None
        self.after_block = False
        self.found = 0

    def feed(self, text: str) -> tuple[str, list[TextToolCall]]:
        if not self.pending and self.block is None and not self.after_block and "<" not in text:
            return text, []  # fast path: plain answer text
        buf = self.pending + text
        self.pending = ""
        shown: list[str] = []
        calls: list[TextToolCall] = []
        while buf:
            if self.block is not None:
                pos = buf.find(self.block.end)
                if pos < 0:
                    self.pending = buf
                    break
                calls += self.block.parse(buf[:pos])
                buf = buf[pos + len(self.block.end):]
                self.block, self.after_block = None, True
                continue
            if self.after_block:
                buf = buf.lstrip()
                if not buf:
                    break
                self.after_block = False
            hit: Markup | None = None
            pos = -1
            if "<" in buf:
                for markup in MARKUPS:
                    p = buf.find(markup.begin)
                    if p >= 0 and (pos < 0 or p < pos):
                        hit, pos = markup, p
            if hit is None:
                keep = _held_prefix(buf)
                shown.append(buf[: len(buf) - keep])
                self.pending = buf[len(buf) - keep:]
                break
            shown.append(buf[:pos])
            buf = buf[pos + len(hit.begin):]
            self.block = hit
        self.found += len(calls)
        return "".join(shown), calls

    def flush(self) -> tuple[str, list[TextToolCall]]:
        pending, self.pending = self.pending, ""
        block, self.block = self.block, None
        if block is None:
            return pending, []
        calls = block.parse(pending)
        self.found += len(calls)
        if calls:
            return "", calls
        return block.begin + pending, []


def extract_tool_calls(text: str) -> tuple[str, list[TextToolCall]]:
    """A complete text split into what is left to show and the tool calls its markup held."""
    parser = MarkupParser()
    shown, calls = parser.feed(text)
    rest, more = parser.flush()
    return shown + rest, calls + more


def complete_calls_in(text: str) -> list[TextToolCall]:
    """Tool calls of the complete (terminated) markup blocks in `text`; unterminated blocks are ignored."""
    parser = MarkupParser()
    _, calls = parser.feed(text)
    return calls
