"""`StreamAssembler`: the bytes of one streamed answer → SSE events → neutral chunks.

Standalone (no client, no socket): the client feeds it network reads, tests feed it
fixture bytes cut anywhere. Beyond the dialect's own parser it

* recognises error bodies in every event (`error_bodies`) and `event: error`
  events, raising with the server's code and message, the partial answer, url and
  request id;
* serves a server that ignores `stream=true` and answers with one JSON body
  (whatever its content type says): until the first data event the raw bytes are
  kept, and a body that had none and is a JSON object is parsed at the end as a
  complete answer and delivered as chunks; `not_streaming` is then set so the
  caller can warn once;
* refuses to pass off an empty stream (no content and no finish reason) or a body
  that is no stream at all as an answer; the error shows the content type and
  the first bytes;
* enforces `stall_timeout` (time without a data event; keep-alive comments do not
  count) and the call's deadline, reading the clock once per network read and
  only when one of them is set.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from .dialects.base import Dialect, ParseOptions
from .credentials import scrub_error
from .error_bodies import error_for, hints, recognise
from .errors import DomesticLLMError, MalformedResponseError, StreamInterruptedError, StreamTimeoutError, redact_url
from .fixups import AnswerFixer, AnswerFixes, fix_result
from .jsonlenient import loads_lenient
from .sse import SSEEvent
from .types import ChatChunk, ChatResult, ToolCallDelta

_HEAD = 200  # bytes of the body kept for error messages


class StreamAssembler:
    """Per-stream state shared by `ChatClient.stream` and `astream`; usable on its own."""

    __slots__ = ("dialect", "options", "url", "content_type", "request_id", "stall_timeout", "deadline",
                 "decoder", "parser", "text", "reasoning", "head", "saw_data", "delivered", "before_data",
                 "not_streaming", "last_data", "clocked", "error_hint", "fixes", "fixer", "token")

    def __init__(self, dialect: Dialect, options: ParseOptions, *, url: str | None = None,
                 content_type: str = "", request_id: str | None = None,
                 stall_timeout: float | None = None, deadline: float | None = None,
                 fixes: AnswerFixes | None = None, token: str | None = None) -> None:
        self.dialect = dialect
        self.token = token  # the request's credential: scrubbed from errors built from what the server sent
        self.fixes = fixes  # model-family fix-ups (answer filed as reasoning, tool-call markup in the text)
        self.fixer = AnswerFixer(fixes) if fixes else None
        self.options = options
        self.url = url
        self.content_type = content_type
        self.request_id = request_id
        self.stall_timeout = stall_timeout
        self.deadline = deadline
        self.decoder = dialect.event_decoder()  # SSE, or the dialect's own framing
        self.parser = dialect.stream_parser(options)
        self.text: list[str] = []  # kept to report partial text if the stream breaks
        self.reasoning: list[str] = []
        self.head = b""
        self.saw_data = False
        self.delivered = False  # some content (text, reasoning or a tool call) was produced
        # the bytes before the first data event: a JSON answer instead of a stream, if no event ever comes
        self.before_data: list[bytes] | None = []
        self.not_streaming = False  # set when the body turned out to be one JSON answer
        # a cheap pre-filter (one regex search for any of the error shapes' marker keys): most events
        # need no second look
        self.error_hint = re.compile("|".join(map(re.escape, hints(dialect.error_shapes)))).search
        self.clocked = stall_timeout is not None or deadline is not None
        self.last_data = time.monotonic() if self.clocked else 0.0

    @property
    def complete(self) -> bool:
        """The stream reached its terminator (`[DONE]` or a finish reason)."""
        return self.parser.complete

    # ---- bytes in, chunks out ------------------------------------------------------

    def feed(self, raw: bytes) -> list[ChatChunk]:
        """One network read: the chunks it completed."""
        if len(self.head) < _HEAD:
            self.head += raw[: _HEAD - len(self.head)]
        if self.before_data is not None:
            self.before_data.append(raw)
        try:
            out = self._events(self.decoder.feed(raw))
        except DomesticLLMError as exc:
            scrub_error(exc, self.token)
            raise
        if self.clocked:
            self._check_clock(out, raw)
        return out

    def _events(self, events: list[SSEEvent]) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        for event in events:
            data = event.data
            if data is not None:
                self.saw_data, self.before_data = True, None
                if event.event == "error" or self.error_hint(data) is not None:
                    self._raise_if_error(event)
            out.extend(self.parser.feed(event))
        if self.fixer is not None and out:
            out = self.fixer.feed(out)
        for chunk in out:
            if chunk.text:
                self.text.append(chunk.text)
            if chunk.reasoning:
                self.reasoning.append(chunk.reasoning)
            if chunk.text or chunk.reasoning or chunk.tool_calls:
                self.delivered = True
        return out

    def _check_clock(self, out: list[ChatChunk], raw: bytes) -> None:
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            raise self.interrupted(None, why="total_timeout ran out")
        if self.stall_timeout is not None:
            # keep-alive comments produce no events, and so no chunks: they must not count as data
            if out or (self.before_data is not None and raw.lstrip()[:1] not in (b":", b"")):
                self.last_data = now
            elif now - self.last_data > self.stall_timeout:
                raise self.interrupted(None, why=f"no data for {self.stall_timeout}s (only keep-alives)")

    def end(self, *, check: bool = True) -> list[ChatChunk]:
        """End of the body: the last chunks, the final one with usage and metadata.

        With `check` (the client's way) an incomplete or empty stream raises; without,
        whatever arrived is finished as is (for tests of the parsers alone).
        """
        try:
            return self._end(check)
        except DomesticLLMError as exc:
            scrub_error(exc, self.token)
            raise

    def _end(self, check: bool) -> list[ChatChunk]:
        out = self._events(self.decoder.flush())
        if check and not self.saw_data and b"".join(self.before_data or []).lstrip()[:1] == b"{":
            self.not_streaming = True
            return self._json_answer()
        if check and not self.parser.complete:
            raise self._unexpected_body() if not self.saw_data else self.interrupted(None)
        out.extend(self.parser.finish())
        if self.fixer is not None:
            out = self.fixer.finish(out)
        final = out[-1]
        if check and not self.delivered and final.finish_reason is None:
            raise self._unexpected_body("the stream ended without any content or finish reason")
        if self.request_id:
            final.metadata.setdefault("request_id", self.request_id)
        return out

    # ---- errors ------------------------------------------------------------------------

    def _raise_if_error(self, event: SSEEvent) -> None:
        try:
            obj, _ = loads_lenient(event.data or "")
        except ValueError:
            obj = None
        found = recognise(obj, self.dialect.error_shapes)
        if found is None and event.event == "error":  # `event: error` whatever the data looks like
            found = recognise({"error": obj if isinstance(obj, dict) and obj else event.data})
        if found is not None:
            exc = error_for(found, what=f"the {self.dialect.name} stream", status=None, url=self.url,
                            request_id=self.request_id, body=obj)
            raise self._with_partial(exc)

    def _with_partial(self, exc: DomesticLLMError) -> DomesticLLMError:
        exc.partial_text = "".join(self.text)
        exc.partial_reasoning = "".join(self.reasoning)
        return exc

    def interrupted(self, exc: BaseException | None, why: str | None = None) -> StreamInterruptedError:
        """The error for a stream that stopped early (`exc`: the transport's exception, if any)."""
        cls: type[StreamInterruptedError] = StreamInterruptedError
        if why is not None:
            cls = StreamTimeoutError
        elif isinstance(exc, httpx.TimeoutException):
            why, cls = self._which_timeout(exc), StreamTimeoutError
        elif exc is not None:
            why = f"connection lost ({type(exc).__name__})"
        else:
            why = "the stream ended without [DONE] or a finish reason"
        text = "".join(self.text)
        error = cls(f"stream interrupted: {why} after {len(text)} characters of answer",
                    url=self.url, request_id=self.request_id)
        self._with_partial(error)
        return error

    def _which_timeout(self, exc: httpx.TimeoutException) -> str:
        if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
            return "total_timeout ran out"
        if self.stall_timeout is not None:
            return f"no data for {self.stall_timeout}s (or the read timeout)"
        return f"read timed out ({type(exc).__name__})"

    def _unexpected_body(self, why: str = "the body is not a stream of server-sent events") -> MalformedResponseError:
        where = f" from {redact_url(self.url)}" if self.url else ""
        exc = MalformedResponseError(
            f"{why}{where}: content type {self.content_type or 'unset'!r}, first bytes {self.head[:_HEAD]!r}",
            url=self.url, request_id=self.request_id)
        self._with_partial(exc)
        return exc

    # ---- a server that does not stream -----------------------------------------------

    def _json_answer(self) -> list[ChatChunk]:
        raw = b"".join(self.before_data or [])
        try:
            body: Any = json.loads(raw)
        except ValueError:
            try:
                body, _ = loads_lenient(raw.decode("utf-8", "replace"))
            except ValueError:
                raise self._unexpected_body("the body is neither a stream nor JSON") from None
        found = recognise(body, self.dialect.error_shapes)
        if found is not None:
            raise error_for(found, what=f"the {self.dialect.name} endpoint", status=None, url=self.url,
                            request_id=self.request_id, body=body)
        try:
            result = self.dialect.parse_response(body, self.options)
        except DomesticLLMError as exc:
            exc.url = exc.url or (redact_url(self.url) if self.url else None)
            raise
        if self.fixes:
            result = fix_result(result, self.fixes)
        check_not_empty(result, url=self.url, request_id=self.request_id, head=self.head)
        out = chunks_of(result)
        if self.request_id:
            out[-1].metadata.setdefault("request_id", self.request_id)
        return out


def chunks_of(result: ChatResult) -> list[ChatChunk]:
    """A complete answer as stream chunks: per choice text, reasoning, tool calls; then the final chunk."""
    out = []
    for choice in result.choices:
        calls = [ToolCallDelta(i, tc.id, tc.name, tc.arguments) for i, tc in enumerate(choice.tool_calls)]
        if choice.reasoning:
            out.append(ChatChunk(choice.index, reasoning=choice.reasoning))
        if choice.text or calls:
            out.append(ChatChunk(choice.index, choice.text, tool_calls=calls))
    first = result.choices[0].finish_reason if result.choices else None
    meta = dict(result.metadata)
    if len(result.choices) > 1:
        meta["finish_reasons"] = {c.index: c.finish_reason for c in result.choices}
    out.append(ChatChunk(0, final=True, finish_reason=first, usage=result.usage, metadata=meta))
    return out


def check_not_empty(result: ChatResult, *, url: str | None, request_id: str | None, head: bytes) -> None:
    """An answer with no choices, or only empty ones without a finish reason, is not a success."""
    if any(c.text or c.reasoning or c.tool_calls or c.finish_reason for c in result.choices):
        return
    what = "no choices" if not result.choices else "only empty choices and no finish reason"
    raise MalformedResponseError(f"the server's answer has {what}: {head[:_HEAD]!r}", url=url, request_id=request_id)
