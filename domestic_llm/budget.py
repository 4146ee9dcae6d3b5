"""A thinking budget the client enforces, for servers without a native one (vLLM, SGLang).

vLLM ignores `thinking_budget`, and a reasoning model may think for thousands of
tokens. On the `openai` dialect the client bounds it with two requests:

1. the request as asked, with `max_tokens` set to the budget: the server itself
   stops after exactly that many tokens and reports exact usage;
2. if it stopped for length, a continuation: the same conversation plus an
   assistant message holding what was generated so far, with the reasoning closed
   by `</think>`, sent with `continue_final_message=true` and
   `add_generation_prompt=false` (the vLLM/SGLang extension). The model writes its
   own answer after its own (cut) reasoning.

If the model finishes within the budget, the first request is the whole answer.
Both requests' usage is added up; `invoke` and `stream` give the same result. A
`max_tokens` the caller set bounds both requests together.

Counting is the server's (its tokenizer, via `max_tokens`), not an estimate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from .errors import BadRequestError
from .thinking import CLOSE, OPEN
from .types import ChatChunk, ChatRequest, ChatResult, Message, Usage

if TYPE_CHECKING:
    from .client import ChatClient


def _first(request: ChatRequest, budget: int) -> ChatRequest:
    limit = request.params.get("max_tokens")
    params = {**request.params, "max_tokens": budget if limit is None else min(budget, limit)}
    return replace(request, params=params, thinking_budget=None)


def _needs_continuation(request: ChatRequest, budget: int, finish: str | None, used: int | None) -> bool:
    limit = request.params.get("max_tokens")
    if finish != "length" or (limit is not None and limit <= budget):
        return False  # finished within the budget, or the caller's own max_tokens was the limit
    return limit is None or used is None or used < limit


def prefix(reasoning: str, text: str) -> str:
    """The assistant message the continuation extends: reasoning closed by `</think>`, then any answer so far."""
    if not reasoning:
        return text
    return f"{OPEN}\n{reasoning.strip()}\n{CLOSE}\n\n{text}"


def _second(request: ChatRequest, reasoning: str, text: str, used: int | None) -> ChatRequest:
    params = dict(request.params)
    limit = params.get("max_tokens")
    if limit is not None:
        params["max_tokens"] = max(1, limit - (used or 0))
    extra = {**request.extra_body, "continue_final_message": True, "add_generation_prompt": False}
    messages = [*request.messages, Message("assistant", prefix(reasoning, text))]
    return replace(request, messages=messages, params=params, extra_body=extra, thinking_budget=None)


def add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    """Usage of two requests together; `None` only when neither reported any."""
    if a is None or b is None:
        return a or b

    def plus(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return Usage(a.input_tokens + b.input_tokens, a.output_tokens + b.output_tokens, a.total_tokens + b.total_tokens,
                 plus(a.reasoning_tokens, b.reasoning_tokens), plus(a.cached_tokens, b.cached_tokens))


def _merge(first: ChatResult, second: ChatResult) -> ChatResult:
    a, b = first.choices[0], second.choices[0]
    b.text = a.text + b.text
    b.reasoning = a.reasoning + b.reasoning
    meta = {**second.metadata, "thinking_budget_continued": True, "first_response_id": first.metadata.get("id")}
    return ChatResult([b], add_usage(first.usage, second.usage), meta)


def _explained(exc: BadRequestError) -> BadRequestError:
    """A 400 on the continuation most likely means the server lacks the extension: say so."""
    exc.args = (f"{exc.args[0] if exc.args else ''} — thinking_budget: the server refused the continuation "
                f"request (continue_final_message=true, add_generation_prompt=false; vLLM/SGLang extensions); "
                f"remove thinking_budget if this server does not support them",) + exc.args[1:]
    return exc


def invoke(client: ChatClient, request: ChatRequest, budget: int) -> ChatResult:
    first = client.invoke(_first(request, budget))
    used = first.usage.output_tokens if first.usage else None
    if not first.choices or not _needs_continuation(request, budget, first.choices[0].finish_reason, used):
        return first
    c = first.choices[0]
    try:
        second = client.invoke(_second(request, c.reasoning, c.text, used))
    except BadRequestError as exc:
        raise _explained(exc) from None
    return _merge(first, second)


async def ainvoke(client: ChatClient, request: ChatRequest, budget: int) -> ChatResult:
    first = await client.ainvoke(_first(request, budget))
    used = first.usage.output_tokens if first.usage else None
    if not first.choices or not _needs_continuation(request, budget, first.choices[0].finish_reason, used):
        return first
    c = first.choices[0]
    try:
        second = await client.ainvoke(_second(request, c.reasoning, c.text, used))
    except BadRequestError as exc:
        raise _explained(exc) from None
    return _merge(first, second)


class _Run:
    """Bookkeeping of a streamed budget call: the first request's text and its (held) final chunk."""

    def __init__(self, request: ChatRequest, budget: int) -> None:
        self.request, self.budget = request, budget
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.final: ChatChunk | None = None

    def first_chunk(self, chunk: ChatChunk) -> bool:
        """Record a chunk of the first stream; True when it should be passed on now."""
        if chunk.final:
            self.final = chunk
            return False
        if chunk.choice == 0:
            self.text.append(chunk.text)
            self.reasoning.append(chunk.reasoning)
        return True

    def continuation(self) -> ChatRequest | None:
        final = self.final
        assert final is not None
        used = final.usage.output_tokens if final.usage else None
        if not _needs_continuation(self.request, self.budget, final.finish_reason, used):
            return None
        return _second(self.request, "".join(self.reasoning), "".join(self.text), used)

    def last_chunk(self, chunk: ChatChunk) -> ChatChunk:
        first = self.final
        assert first is not None
        chunk.usage = add_usage(first.usage, chunk.usage)
        chunk.metadata = {**chunk.metadata, "thinking_budget_continued": True,
                          "first_response_id": first.metadata.get("id")}
        return chunk


def stream(client: ChatClient, request: ChatRequest, budget: int) -> Iterator[ChatChunk]:
    run = _Run(request, budget)
    for chunk in client.stream(_first(request, budget)):
        if run.first_chunk(chunk):
            yield chunk
    second = run.continuation()
    if second is None:
        assert run.final is not None
        yield run.final
        return
    try:
        for chunk in client.stream(second):
            yield run.last_chunk(chunk) if chunk.final else chunk
    except BadRequestError as exc:
        raise _explained(exc) from None


async def astream(client: ChatClient, request: ChatRequest, budget: int) -> AsyncIterator[ChatChunk]:
    run = _Run(request, budget)
    async for chunk in client.astream(_first(request, budget)):
        if run.first_chunk(chunk):
            yield chunk
    second = run.continuation()
    if second is None:
        assert run.final is not None
        yield run.final
        return
    try:
        async for chunk in client.astream(second):
            yield run.last_chunk(chunk) if chunk.final else chunk
    except BadRequestError as exc:
        raise _explained(exc) from None
