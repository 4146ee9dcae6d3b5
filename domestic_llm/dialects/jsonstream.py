"""`JSONStreamParser`: the generic "JSON events → neutral chunks" machinery every stream parser reuses.

A dialect's parser subclasses it and implements `read_object` (one decoded JSON
object → delta chunks). The base does the rest, the same way for every dialect:

* lenient decoding of each event (`loads_lenient`): a valid object followed by
  garbage is recovered, an unparseable line is skipped with one warning (or
  raises with `strict`), both counted into the final metadata;
* `[DONE]` and empty events;
* per choice, the text goes through a `TextGuard` (stop sequences, leaked
  template markers, trailing role lines; see `textguard`) and then through the
  `<think>` splitter;
* `set_finish` records a finish reason (normalised and raw) and marks the stream
  complete; an answer cut at a stop sequence reports `stop`;
* `finish` releases held-back text and builds exactly one final chunk carrying
  usage, finish reason and metadata.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import MalformedResponseError
from ..jsonlenient import loads_lenient
from ..sse import SSEEvent
from ..textguard import TextGuard
from ..thinking import ThinkSplitter
from ..types import ChatChunk, Usage
from .base import ParseOptions, StreamParser

log = logging.getLogger("domestic_llm")


class JSONStreamParser(StreamParser):
    """State of one stream of JSON events; subclasses read the objects."""

    def __init__(self, options: ParseOptions) -> None:
        self.options = options
        self.split = options.think_tags != "keep"
        self.guarded = bool(options.stop or options.markers or options.trim_role_leaks)
        self.meta: dict[str, Any] = {}
        self.usage: Usage | None = None
        self.finish_reasons: dict[int, str] = {}
        self.raw_finish: dict[int, str] = {}
        self.splitters: dict[int, ThinkSplitter] = {}
        self.field_reasoning: set[int] = set()  # choices whose reasoning came in reasoning_content/reasoning
        self.guards: dict[int, TextGuard] = {}
        self.complete = False
        self.skipped = 0
        self.recovered = 0

    # ---- decoding ----------------------------------------------------------------------

    def feed(self, event: SSEEvent) -> list[ChatChunk]:
        data = event.data
        if data is None:
            return self.on_dataless_event(event)
        data = data.strip()
        if not data:
            return []
        if data == "[DONE]":
            self.complete = True
            return []
        obj = self.decode(data)
        if obj is None:
            return []
        return self.read_object(obj)

    def decode(self, data: str) -> dict[str, Any] | None:
        """One event's JSON object, leniently; `None` (counted, warned once) when there is none."""
        try:
            obj, recovered = loads_lenient(data)
        except ValueError:
            self._skip(data)
            return None
        if not isinstance(obj, dict):
            self._skip(data)
            return None
        if recovered:
            self.recovered += 1
        return obj

    def _skip(self, data: str) -> None:
        if self.options.strict:
            raise MalformedResponseError(f"unparseable stream line: {data[:200]!r}")
        if not self.skipped:
            log.warning("domestic_llm: skipping an unparseable stream line: %.200r", data)
        self.skipped += 1

    def read_object(self, obj: dict[str, Any]) -> list[ChatChunk]:  # pragma: no cover - interface
        """One decoded object → delta chunks; end-of-answer facts go into this parser's state."""
        raise NotImplementedError

    def on_dataless_event(self, event: SSEEvent) -> list[ChatChunk]:
        """An event with an `event:` line but no data (keep-alives, trailers)."""
        return []

    # ---- text and end of answer ----------------------------------------------------------

    def guard(self, index: int) -> TextGuard:
        g = self.guards.get(index)
        if g is None:
            o = self.options
            g = self.guards[index] = TextGuard(o.stop, o.markers, o.trim_role_leaks)
        return g

    def text_delta(self, index: int, text: str, reasoning: str) -> tuple[str, str]:
        """Route `text` through choice `index`'s guard and <think> splitter (when they are on)."""
        if self.guarded and text:
            text = self.guard(index).feed(text)
        if reasoning and self.options.think_starts_open:
            self.field_reasoning.add(index)
        if self.split and text:
            r, text = self.splitter(index).feed(text)
            if r:
                reasoning += r
        return text, reasoning

    def splitter(self, index: int) -> ThinkSplitter:
        sp = self.splitters.get(index)
        if sp is None:
            # a server that filed reasoning in its own field sent the answer as content: no implicit <think>
            starts_open = self.options.think_starts_open and index not in self.field_reasoning
            sp = self.splitters[index] = ThinkSplitter(self.options.think_tags, starts_open)
        return sp

    def stopped(self, index: int) -> bool:
        """Whether choice `index` already met a stop sequence (its further text is discarded)."""
        g = self.guards.get(index)
        return g is not None and g.stopped

    def set_finish(self, index: int, raw: Any, normalized: str | None) -> None:
        """Record choice `index`'s finish reason: `raw` as the server said it, `normalized` in OpenAI's words."""
        if raw is not None:
            self.raw_finish[index] = str(raw)
        if normalized is not None:
            self.finish_reasons[index] = normalized
        self.complete = True

    def finish(self) -> list[ChatChunk]:
        """Release held-back text and build the one final chunk."""
        out: list[ChatChunk] = []
        indexes = sorted(set(self.guards) | set(self.splitters))
        for index in indexes:
            text, reasoning = "", ""
            guard = self.guards.get(index)
            if guard is not None:
                held = guard.flush()
                if held:
                    text, reasoning = self.text_delta_unguarded(index, held)
                if guard.stopped:
                    # the answer ended at a stop sequence, whatever the server thought
                    if self.finish_reasons.get(index) not in (None, "stop"):
                        self.raw_finish.setdefault(index, self.finish_reasons[index])
                    self.finish_reasons[index] = "stop"
            sp = self.splitters.get(index)
            if sp is not None:
                r, t = sp.flush()
                text, reasoning = text + t, reasoning + r
                if sp.orphan_close:
                    self.meta["orphan_think_close"] = True
            if text or reasoning:
                out.append(ChatChunk(index, text, reasoning, id=self.meta.get("id")))
        meta = self.meta
        if self.skipped:
            meta["skipped_lines"] = self.skipped
        if self.recovered:
            meta["recovered_lines"] = self.recovered
        for index, raw in self.raw_finish.items():
            if raw != self.finish_reasons.get(index):
                meta.setdefault("raw_finish_reason", raw)
        if len(self.finish_reasons) > 1:
            meta["finish_reasons"] = dict(self.finish_reasons)
        out.append(ChatChunk(0, final=True, finish_reason=self.finish_reasons.get(0), usage=self.usage, metadata=meta,
                             id=meta.get("id")))
        return out

    def text_delta_unguarded(self, index: int, text: str) -> tuple[str, str]:
        if self.split:
            r, t = self.splitter(index).feed(text)
            return t, r
        return text, ""
