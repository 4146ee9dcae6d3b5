"""Answers a server filed in the wrong place, put right on the neutral chunks of any dialect.

Two fix-ups, both decided per request (see `callplan`):

* **reasoning is answer** — with thinking switched off (or when continuing after a
  closed `</think>`), a server whose reasoning parser is on files the whole answer
  in `reasoning_content` and leaves `content` empty (the parser never saw a
  `</think>`). Reasoning then is the answer; whitespace before the answer's first
  character is dropped.
* **tool calls in text** — with tools bound, tool-call markup in the answer text
  becomes tool calls (`toolmarkup`), streamed without the markup ever being shown.
  Calls that a model wrote only inside its reasoning are used when the answer
  itself has none (the model decided while thinking and stopped); the reasoning
  text is left as delivered. The finish reason becomes `tool_calls`.

Streams go through `AnswerFixer.feed` / `finish`; complete answers through
`fix_result`, which runs the same code, so `invoke` and `stream` agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .types import ChatChunk, ChatResult, ToolCall, ToolCallDelta, Usage

if TYPE_CHECKING:
    from .toolmarkup import MarkupParser


def _markup_parser() -> MarkupParser:
    # toolmarkup (its markup table and regexes) is imported by the first answer that needs a fix-up,
    # once per process, not by every import of the client; the parser is made once per choice, not per chunk
    from .toolmarkup import MarkupParser

    return MarkupParser()


@dataclass(slots=True)
class AnswerFixes:
    """Which fix-ups one request needs."""

    reasoning_is_answer: bool = False
    tool_markup: bool = False

    def __bool__(self) -> bool:
        return self.reasoning_is_answer or self.tool_markup


@dataclass(slots=True)
class _Choice:
    markup: MarkupParser = field(default_factory=_markup_parser)
    answer_started: bool = False
    moved_reasoning: bool = False
    native_calls: bool = False
    recovered: int = 0
    next_index: int = 0
    reasoning: list[str] = field(default_factory=list)


class AnswerFixer:
    """Per-stream state of the fix-ups; chunks are adjusted in place and passed on."""

    __slots__ = ("fixes", "choices")

    def __init__(self, fixes: AnswerFixes) -> None:
        self.fixes = fixes
        self.choices: dict[int, _Choice] = {}

    def _state(self, index: int) -> _Choice:
        st = self.choices.get(index)
        if st is None:
            st = self.choices[index] = _Choice()
        return st

    def _recovered_deltas(self, st: _Choice, calls: list) -> list[ToolCallDelta]:
        out = []
        for call in calls:
            out.append(ToolCallDelta(st.next_index, call.id, call.name, call.arguments))
            st.next_index += 1
        st.recovered += len(out)
        return out

    def feed(self, chunks: list[ChatChunk]) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        fixes = self.fixes
        for chunk in chunks:
            st = self._state(chunk.choice)
            text = chunk.text
            if fixes.reasoning_is_answer and chunk.reasoning:
                text, chunk.reasoning = chunk.reasoning + text, ""
                st.moved_reasoning = True
            if fixes.reasoning_is_answer and not st.answer_started and text:
                text = text.lstrip()
                st.answer_started = bool(text)
            if fixes.tool_markup:
                for delta in chunk.tool_calls:
                    st.native_calls = True
                    st.next_index = max(st.next_index, delta.index + 1)
                if chunk.reasoning:
                    st.reasoning.append(chunk.reasoning)
                if text:
                    text, calls = st.markup.feed(text)
                    if calls:
                        chunk.tool_calls = chunk.tool_calls + self._recovered_deltas(st, calls)
            chunk.text = text
            if text or chunk.reasoning or chunk.tool_calls:
                out.append(chunk)
        return out

    def _flush(self, index: int, st: _Choice) -> list[ChatChunk]:
        if not self.fixes.tool_markup:
            return []
        text, calls = st.markup.flush()
        deltas = self._recovered_deltas(st, calls)
        if not st.native_calls and not st.recovered and st.reasoning:
            from .toolmarkup import complete_calls_in  # once per choice at the end of an answer

            deltas += self._recovered_deltas(st, complete_calls_in("".join(st.reasoning)))
        return [ChatChunk(index, text, "", deltas)] if text or deltas else []

    def finish(self, chunks: list[ChatChunk]) -> list[ChatChunk]:
        """The dialect parser's closing chunks (held-back deltas, then the final one), fixed."""
        final = chunks[-1]
        out = self.feed(chunks[:-1])
        for index, st in self.choices.items():
            out += self._flush(index, st)
        _recount(final.usage, self.choices.values())
        recovered = sum(st.recovered for st in self.choices.values())
        if recovered:
            final.metadata["text_tool_calls"] = recovered
            first = self.choices.get(0)
            if first is not None and first.recovered and final.finish_reason in ("stop", None):
                if final.finish_reason:
                    final.metadata.setdefault("raw_finish_reason", final.finish_reason)
                final.finish_reason = "tool_calls"
        out.append(final)
        return out


def fix_result(result: ChatResult, fixes: AnswerFixes) -> ChatResult:
    """The same fix-ups on a complete answer."""
    fixer = AnswerFixer(fixes)
    recovered = 0
    for choice in result.choices:
        st = fixer._state(choice.index)
        st.native_calls = bool(choice.tool_calls)
        st.next_index = len(choice.tool_calls)
        chunks = fixer.feed([ChatChunk(choice.index, choice.text, choice.reasoning)])
        chunks += fixer._flush(choice.index, st)
        choice.text = "".join(c.text for c in chunks)
        choice.reasoning = "".join(c.reasoning for c in chunks)
        choice.tool_calls = choice.tool_calls + [
            ToolCall(d.id or "", d.name or "", d.arguments or "") for c in chunks for d in c.tool_calls
        ]
        if st.recovered:
            recovered += st.recovered
            if choice.finish_reason in ("stop", None):
                if choice.index == 0 and choice.finish_reason:
                    result.metadata.setdefault("raw_finish_reason", choice.finish_reason)
                choice.finish_reason = "tool_calls"
    _recount(result.usage, fixer.choices.values())
    if recovered:
        result.metadata["text_tool_calls"] = recovered
    return result


def _recount(usage: Usage | None, choices: Iterable[_Choice]) -> None:
    """The server counted the answer it filed as reasoning as reasoning tokens; the answer has none."""
    if usage is not None and usage.reasoning_tokens and any(st.moved_reasoning for st in choices):
        usage.reasoning_tokens = 0
