"""Streamed answers as LlamaIndex `ChatResponse`s: per chunk, the accumulated message and the delta.

Most chunks of a stream carry only text or reasoning. For those, the three pydantic
objects of a response (`TextBlock` / `ThinkingBlock`, `ChatMessage`, `ChatResponse`)
are built from values that are valid by construction — `str`s the core decoded, a
fresh list and fresh dicts — so validating them again would only cost time (about
two thirds of what the adapter spent per chunk). They are built by
`domestic_llm.unvalidated.built` instead:
the instance state pydantic itself would have produced, field for field. Which
chunks take this way is decided in `StreamAccumulator.add`; every other chunk (tool
calls, logprobs, the final chunk with usage and ids) is built by the validated
constructors, as is every chunk if `FAST_PATH_AGREES` is false.

`FAST_PATH_AGREES` is computed once, at import: probe responses are built both ways
and compared (`==`, `repr`, fields set of every object). If a llama-index-core
release changes these models (a new field, a validator that rewrites a value), the
fast path turns itself off rather than build objects the validated path would not.
"""

from __future__ import annotations

import logging
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock, ThinkingBlock
from domestic_llm.types import ChatChunk
from domestic_llm.unvalidated import built, same_objects

from ._convert import assistant_message, end_kwargs, to_logprobs

log = logging.getLogger("domestic_llm")

_ASSISTANT = MessageRole.ASSISTANT
def text_response(text: str, reasoning: str, delta: str, thinking_delta: str) -> ChatResponse:
    """What `validated_text_response` returns, without validation (see the module docstring)."""
    blocks = []
    if reasoning:
        blocks.append(built(ThinkingBlock, {"block_type": "thinking", "content": reasoning, "num_tokens": None,
                                             "additional_information": {}}, {"content", "num_tokens"}))
    blocks.append(built(TextBlock, {"block_type": "text", "text": text}, {"text"}))
    message = built(ChatMessage, {"role": _ASSISTANT, "additional_kwargs": {}, "blocks": blocks},
                     {"role", "blocks", "additional_kwargs"})
    return built(ChatResponse, {"message": message, "raw": None, "delta": delta, "logprobs": None,
                                 "additional_kwargs": {"thinking_delta": thinking_delta} if thinking_delta else {}},
                  {"message", "delta", "additional_kwargs", "logprobs"})


def validated_text_response(text: str, reasoning: str, delta: str, thinking_delta: str) -> ChatResponse:
    """A text / reasoning chunk's response through pydantic: the reference `text_response` must equal."""
    extra = {"thinking_delta": thinking_delta} if thinking_delta else {}
    return ChatResponse(message=assistant_message(text, reasoning, []), delta=delta, additional_kwargs=extra,
                        logprobs=None)


def _fast_path_agrees() -> bool:
    probes = [("", "", "", ""), ("长江", "", "江", ""), ("", "想", "", "想"), ("答", "想一想", "答", "一想")]
    try:
        if all(same_objects(text_response(*p), validated_text_response(*p)) for p in probes):
            return True
    except Exception:  # noqa: BLE001 - e.g. a pydantic without these slots: the validated path stands
        pass
    log.debug("domestic_llm: llama-index-core's ChatResponse differs from what the fast path builds; "
              "streamed responses are validated")
    return False


FAST_PATH_AGREES = _fast_path_agrees()


class StreamAccumulator:
    """Turns neutral chunks into LlamaIndex stream responses (accumulated message + delta).

    The work per chunk does not grow with the answer: text and reasoning are extended
    in place (never re-joined from a list of pieces) and the tool-call view is rebuilt
    only when a tool-call fragment arrives (the logprobs view likewise, only when
    logprobs arrive). What remains proportional to the length is the copy CPython makes
    of an extended string still referenced by the previous response's message, a memcpy
    inherent in LlamaIndex's accumulated-message convention.
    """

    __slots__ = ("dialect", "text", "reasoning", "calls", "call_view", "logprobs", "fast")

    def __init__(self, dialect: str, fast: bool = FAST_PATH_AGREES) -> None:
        self.dialect = dialect
        self.text = ""
        self.reasoning = ""
        self.calls: dict[int, list[Any]] = {}  # index -> [id, name, arguments]
        self.call_view: list[tuple[str | None, str, str]] = []
        self.logprobs: list[Any] | None = None  # a new list only when a chunk brings logprobs
        #: plain text / reasoning chunks' responses are built by `text_response`: true until the
        #: stream brings a tool call or logprobs, which every later response carries too
        self.fast = fast

    def add(self, chunk: ChatChunk) -> ChatResponse | None:
        if chunk.choice:
            return None  # LlamaIndex streams one choice
        if chunk.text:
            self.text += chunk.text
        if chunk.reasoning:
            self.reasoning += chunk.reasoning
        # usage and `raw` come only with the final chunk (usage also sets ThinkingBlock.num_tokens)
        if self.fast and not (chunk.final or chunk.tool_calls or chunk.logprobs or chunk.usage):
            return text_response(self.text, self.reasoning, chunk.text, chunk.reasoning)
        return self._validated(chunk)

    def _validated(self, chunk: ChatChunk) -> ChatResponse:
        if chunk.logprobs:
            self.fast = False  # pydantic copies the logprobs lists into each later response
            self.logprobs = (self.logprobs or []) + to_logprobs(chunk.logprobs)
        if chunk.tool_calls:
            self.fast = False  # each later message has ToolCallBlocks and additional_kwargs["tool_calls"]
            for d in chunk.tool_calls:
                call = self.calls.setdefault(d.index, [None, "", ""])
                call[0] = call[0] or d.id
                call[1] += d.name or ""
                call[2] += d.arguments or ""
            self.call_view = [tuple(self.calls[i]) for i in sorted(self.calls)]  # type: ignore[misc]
        usage = chunk.usage
        message = assistant_message(self.text, self.reasoning, self.call_view,
                                    usage.reasoning_tokens if usage else None)
        extra: dict[str, Any] = {}
        if chunk.reasoning:
            extra["thinking_delta"] = chunk.reasoning
        if chunk.final:
            extra.update(end_kwargs(chunk.finish_reason, usage, chunk.metadata, self.dialect))
            if self.reasoning:
                extra["reasoning_content"] = self.reasoning
            return ChatResponse(message=message, delta="", raw=extra, additional_kwargs=extra, logprobs=self.logprobs)
        return ChatResponse(message=message, delta=chunk.text, additional_kwargs=extra, logprobs=self.logprobs)
