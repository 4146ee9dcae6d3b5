"""`domestic-llm chat`: one answer (or a conversation) streamed to the terminal, with its figures.

The answer goes to stdout and everything else (reasoning, figures, banners) to
stderr, so `domestic-llm chat "..." > answer.txt` keeps only the answer while the
terminal still shows the reasoning apart from it. `--json` prints one record per
answer on stdout instead, for scripts.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..client import ChatClient
from ..types import ChatRequest, Message, Usage

DIM = "\x1b[2m"
RESET = "\x1b[0m"
REPL_HELP = "commands: /reset clears the conversation, /exit quits (or Ctrl-D), /help shows this"


@dataclass
class Answer:
    """One complete answer and the figures measured around it."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    request_id: str | None = None
    first_token_s: float | None = None  # seconds from sending to the first token (reasoning counts)
    elapsed_s: float = 0.0

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens over the generation time (first token to end); `None` when not measurable.

        Only from the server's own usage: without usage there is no honest token count.
        """
        if self.usage is None or not self.usage.output_tokens:
            return None
        span = self.elapsed_s - (self.first_token_s or 0.0)
        if span <= 0 or self.usage.output_tokens < 2:
            span = self.elapsed_s  # one token, or everything in one read: fall back to the whole call
        return self.usage.output_tokens / span if span > 0 else None

    def record(self, client: ChatClient, prompt: str, with_reasoning: bool) -> dict[str, Any]:
        """The `--json` record of this answer."""
        usage = None
        if self.usage is not None:
            usage = {"input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens,
                     "total_tokens": self.usage.total_tokens, "reasoning_tokens": self.usage.reasoning_tokens}
        tps = self.tokens_per_s
        return {
            "prompt": prompt,
            "text": self.text,
            "reasoning": self.reasoning if with_reasoning else None,
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "usage": usage,
            "time_to_first_token_s": _round(self.first_token_s),
            "elapsed_s": _round(self.elapsed_s),
            "tokens_per_s": None if tps is None else round(tps, 1),
            "model": client.model,
            "dialect": client.dialect.name,
            "request_id": self.request_id,
        }

    def figures(self) -> str:
        """The one-line summary printed after an answer."""
        parts = []
        u = self.usage
        if u is None:
            parts.append("usage not reported by the server")
        else:
            detail = f" ({u.reasoning_tokens} reasoning)" if u.reasoning_tokens else ""
            parts.append(f"tokens: {u.input_tokens} in, {u.output_tokens} out{detail}, {u.total_tokens} total")
        if self.first_token_s is not None:
            parts.append(f"first token {self.first_token_s:.2f} s")
        tps = self.tokens_per_s
        if tps is not None:
            parts.append(f"{tps:.1f} tokens/s")
        parts.append(f"total {self.elapsed_s:.2f} s")
        if self.finish_reason and self.finish_reason != "stop":
            parts.append(f"finish {self.finish_reason}")
        return " · ".join(parts)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class Terminal:
    """Where the pieces of an answer go: answer text to `out`, the rest to `err` (dimmed on a terminal)."""

    def __init__(self, out: TextIO, err: TextIO, show_reasoning: bool) -> None:
        self.out = out
        self.err = err
        self.show_reasoning = show_reasoning
        self.color = err.isatty() and not os.environ.get("NO_COLOR")
        self._in_reasoning = False
        self._text_open = False
        self._text_ends_newline = True

    def note(self, text: str) -> None:
        """A dimmed line on stderr (figures, banners)."""
        self.err.write(f"{DIM}{text}{RESET}\n" if self.color else text + "\n")
        self.err.flush()

    def reasoning(self, piece: str) -> None:
        if not self.show_reasoning or not piece:
            return
        if not self._in_reasoning:
            if self._text_open:
                self._close_text()
            self.err.write(f"{DIM}[reasoning]{RESET} " if self.color else "[reasoning] ")
            self._in_reasoning = True
        # dim each piece separately: an interrupted stream must not leave the terminal dimmed
        self.err.write(f"{DIM}{piece}{RESET}" if self.color else piece)
        self.err.flush()

    def text(self, piece: str) -> None:
        if not piece:
            return
        if self._in_reasoning:
            self.err.write("\n")
            self.err.flush()
            self._in_reasoning = False
        self.out.write(piece)
        self.out.flush()
        self._text_open = True
        self._text_ends_newline = piece.endswith("\n")

    def _close_text(self) -> None:
        if not self._text_ends_newline:
            self.out.write("\n")
            self.out.flush()
        self._text_open = False
        self._text_ends_newline = True

    def end(self) -> None:
        if self._in_reasoning:
            self.err.write("\n")
            self.err.flush()
            self._in_reasoning = False
        if self._text_open:
            self._close_text()


def ask(client: ChatClient, messages: list[Message], params: dict[str, Any], *, stream: bool,
        view: Terminal | None) -> Answer:
    """Send one turn; stream its pieces to `view` (if any) as they arrive; return the answer and figures."""
    request = ChatRequest(model=client.model, messages=list(messages), params=dict(params))
    answer = Answer()
    started = time.perf_counter()
    if not stream:
        result = client.invoke(request)
        answer.elapsed_s = answer.first_token_s = time.perf_counter() - started
        answer.text, answer.reasoning = result.text, result.reasoning
        answer.tool_calls = [{"id": tc.id, "name": tc.name, "arguments": tc.arguments}
                             for tc in (result.choices[0].tool_calls if result.choices else [])]
        answer.finish_reason = result.choices[0].finish_reason if result.choices else None
        answer.usage = result.usage
        answer.request_id = result.metadata.get("request_id")
        if view is not None:
            view.reasoning(answer.reasoning)
            view.text(answer.text)
            view.end()
        return answer
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    chunks = client.stream(request)
    try:
        for chunk in chunks:
            if chunk.choice != 0:
                continue
            if answer.first_token_s is None and (chunk.text or chunk.reasoning or chunk.tool_calls):
                answer.first_token_s = time.perf_counter() - started
            if chunk.reasoning:
                reasoning.append(chunk.reasoning)
                if view is not None:
                    view.reasoning(chunk.reasoning)
            if chunk.text:
                text.append(chunk.text)
                if view is not None:
                    view.text(chunk.text)
            for delta in chunk.tool_calls:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                call["name"] += delta.name or ""
                call["arguments"] += delta.arguments or ""
            if chunk.final:
                answer.finish_reason = chunk.finish_reason
                answer.usage = chunk.usage
                answer.request_id = chunk.metadata.get("request_id")
    finally:
        getattr(chunks, "close", lambda: None)()  # a generator: closing it closes the HTTP response
        if view is not None:
            view.end()
    answer.elapsed_s = time.perf_counter() - started
    answer.text, answer.reasoning = "".join(text), "".join(reasoning)
    answer.tool_calls = [calls[i] for i in sorted(calls)]
    return answer


def show_tool_calls(answer: Answer, view: Terminal) -> None:
    for call in answer.tool_calls:
        view.note(f"[tool call] {call['name']}({call['arguments']})")


def emit(answer: Answer, client: ChatClient, prompt: str, *, as_json: bool, show_reasoning: bool,
         view: Terminal) -> None:
    """After an answer: its JSON record, or its tool calls and figures on stderr."""
    if as_json:
        view.out.write(json.dumps(answer.record(client, prompt, show_reasoning), ensure_ascii=False) + "\n")
        view.out.flush()
    else:
        show_tool_calls(answer, view)
        view.note(answer.figures())


def one_shot(client: ChatClient, prompt: str, system: str | None, params: dict[str, Any], *, stream: bool,
             as_json: bool, show_reasoning: bool) -> None:
    view = Terminal(sys.stdout, sys.stderr, show_reasoning)
    messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
    answer = ask(client, messages, params, stream=stream, view=None if as_json else view)
    emit(answer, client, prompt, as_json=as_json, show_reasoning=show_reasoning, view=view)


def repl(client: ChatClient, system: str | None, params: dict[str, Any], *, stream: bool, as_json: bool,
         show_reasoning: bool, on_error: Any) -> int:
    """The conversation loop: each line is a turn; the conversation is kept until /reset.

    On a terminal, `readline` gives line editing and the session's input history
    (arrow keys, Ctrl-R). Not on a terminal, lines are read from stdin without a
    prompt, so `printf 'hi\\n/exit\\n' | domestic-llm chat` works in scripts.
    `on_error(exc)` reports a failed turn and returns its exit code; the conversation then
    continues without it. Returns 0, or, when reading from a pipe, the exit code of the last
    failed turn, so a script notices.
    """
    failed = 0
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # not on every platform; input() still works without it
            import readline  # noqa: F401  (importing it is what turns on line editing for input())
    view = Terminal(sys.stdout, sys.stderr, show_reasoning)
    start = [Message("system", system)] if system else []
    history: list[Message] = list(start)
    if interactive:
        view.note(f"domestic-llm chat · {client.model or '(no model)'} · {client.dialect.name} dialect · "
                  f"{client.url}\n{REPL_HELP}")
    while True:
        try:
            line = input(">>> " if interactive else "")
        except EOFError:
            if interactive:
                sys.stderr.write("\n")
            return 0 if interactive else failed
        except KeyboardInterrupt:  # Ctrl-C at the prompt discards the line, as shells do
            sys.stderr.write("\n")
            continue
        prompt = line.strip()
        if not prompt:
            continue
        if prompt.startswith("/"):
            command = prompt.split()[0].lower()
            if command in ("/exit", "/quit", "/q"):
                return 0 if interactive else failed
            if command == "/reset":
                history = list(start)
                view.note("conversation cleared")
            elif command in ("/help", "/?"):
                view.note(REPL_HELP)
            else:
                view.note(f"unknown command {command}; {REPL_HELP}")
            continue
        turn = history + [Message("user", prompt)]
        try:
            answer = ask(client, turn, params, stream=stream, view=None if as_json else view)
        except KeyboardInterrupt:
            view.note("[interrupted: this turn is not kept]")
            continue
        except Exception as exc:  # one failed turn must not end the conversation
            failed = on_error(exc)
            continue
        history = turn + [Message("assistant", answer.text)]
        emit(answer, client, prompt, as_json=as_json, show_reasoning=show_reasoning, view=view)
