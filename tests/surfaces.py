"""One call through any of the three public surfaces, in any mode, for end-to-end fault tests.

`ask(surface, mode, url, **settings)` sends one question through `ChatClient`,
`ChatDomestic` or `DomesticLLM` (sync or async, streamed or not) and returns the
answer as `(text, reasoning, usage_total)`; errors propagate as the surface raises them.
"""

from __future__ import annotations

import asyncio
from typing import Any

SURFACES = ("core", "langchain", "llamaindex")
MODES = ("invoke", "ainvoke", "stream", "astream")
CASES = [(s, m) for s in SURFACES for m in MODES]


def model(surface: str, **settings: Any) -> Any:
    settings.setdefault("model", "qwen-72b")
    if surface == "core":
        from domestic_llm import ChatClient

        return ChatClient(**settings)
    if surface == "langchain":
        from langchain_domestic_llm import ChatDomestic

        return ChatDomestic(**settings)
    from llamaindex_domestic_llm import DomesticLLM

    # a set context window: LlamaIndex would otherwise read it from /v1/models first (one extra GET),
    # and these tests count the requests the server saw
    return DomesticLLM(**{"context_window": 32768, **settings})


async def _aask(surface: str, mode: str, llm: Any, question: str) -> tuple[str, str, int | None]:
    if surface == "core":
        if mode == "ainvoke":
            r = await llm.ainvoke(question)
            return r.text, r.reasoning, r.usage.total_tokens if r.usage else None
        text, reasoning, total = "", "", None
        async for c in llm.astream(question):
            text, reasoning = text + c.text, reasoning + c.reasoning
            total = c.usage.total_tokens if c.usage else total
        return text, reasoning, total
    if surface == "langchain":
        if mode == "ainvoke":
            return _lc(await llm.ainvoke(question))
        total_msg = None
        async for c in llm.astream(question):
            total_msg = c if total_msg is None else total_msg + c
        return _lc(total_msg)
    from llama_index.core.base.llms.types import ChatMessage

    messages = [ChatMessage(role="user", content=question)]
    if mode == "ainvoke":
        return _li(await llm.achat(messages))
    last = None
    async for r in await llm.astream_chat(messages):
        last = r
    return _li(last)


def _ask_sync(surface: str, mode: str, llm: Any, question: str) -> tuple[str, str, int | None]:
    if surface == "core":
        if mode == "invoke":
            r = llm.invoke(question)
            return r.text, r.reasoning, r.usage.total_tokens if r.usage else None
        chunks = list(llm.stream(question))
        totals = [c.usage.total_tokens for c in chunks if c.usage]
        return "".join(c.text for c in chunks), "".join(c.reasoning for c in chunks), totals[-1] if totals else None
    if surface == "langchain":
        if mode == "invoke":
            return _lc(llm.invoke(question))
        total_msg = None
        for c in llm.stream(question):
            total_msg = c if total_msg is None else total_msg + c
        return _lc(total_msg)
    from llama_index.core.base.llms.types import ChatMessage

    messages = [ChatMessage(role="user", content=question)]
    if mode == "invoke":
        return _li(llm.chat(messages))
    last = None
    for r in llm.stream_chat(messages):
        last = r
    return _li(last)


def _lc(msg: Any) -> tuple[str, str, int | None]:
    usage = msg.usage_metadata or {}
    return msg.content, msg.additional_kwargs.get("reasoning_content", ""), usage.get("total_tokens")


def _li(resp: Any) -> tuple[str, str, int | None]:
    usage = resp.raw.get("usage") if isinstance(resp.raw, dict) else None
    return resp.message.content or "", resp.additional_kwargs.get("reasoning_content", ""), (usage or {}).get(
        "total_tokens")


def ask(surface: str, mode: str, question: str = "介绍一下长江", **settings: Any) -> tuple[str, str, int | None]:
    """One question through `surface` in `mode`; closes the model afterwards."""
    llm = model(surface, **settings)
    try:
        if mode.startswith("a"):
            return asyncio.run(_aclosing(surface, mode, llm, question))
        return _ask_sync(surface, mode, llm, question)
    finally:
        llm.close()


async def _aclosing(surface: str, mode: str, llm: Any, question: str) -> tuple[str, str, int | None]:
    try:
        return await _aask(surface, mode, llm, question)
    finally:
        await llm.aclose()
