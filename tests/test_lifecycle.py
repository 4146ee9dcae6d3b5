"""Resources: close/aclose and context managers, pools across event loops, dropped models, stream cost.

Each test that counts connections runs its own emulator, so connections pooled by
other tests' models cannot count, and keeps idle connections open for a minute, so
a connection closes only when the client closes it; counts are read from the server
(`Emulator.open_connections`) and waited for, since the server notices a closed
socket a moment later.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import warnings

import pytest

from domestic_llm import ChatClient
from domestic_llm.testing import Emulator
from domestic_llm.types import ChatChunk, ToolCallDelta
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM
from llamaindex_domestic_llm._stream import StreamAccumulator

Q = "你好"
ANSWER = f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"
MODELS = {"core": ChatClient, "langchain": ChatDomestic, "llamaindex": DomesticLLM}


@pytest.fixture
def own_emulator():
    with Emulator(keep_alive=60) as emu:
        yield emu


def _settle(emu: Emulator, expected: int = 0, seconds: float = 20.0) -> int:
    end = time.monotonic() + seconds
    while emu.open_connections() != expected and time.monotonic() < end:
        time.sleep(0.05)
    return emu.open_connections()


def _answer(llm, surface: str) -> str:
    if surface == "core":
        return llm.invoke(Q).text
    if surface == "langchain":
        return llm.invoke(Q).content
    return llm.complete(Q).text


async def _aanswer(llm, surface: str) -> str:
    if surface == "core":
        return (await llm.ainvoke(Q)).text
    if surface == "langchain":
        return (await llm.ainvoke(Q)).content
    return (await llm.acomplete(Q)).text


@pytest.mark.parametrize("surface", MODELS)
def test_with_closes_the_pool_and_the_model_still_works_after_close(own_emulator, surface):
    with MODELS[surface](model="m", base_url=own_emulator.base_url) as llm:
        assert _answer(llm, surface) == ANSWER
        assert own_emulator.open_connections() == 1
    assert _settle(own_emulator) == 0
    assert _answer(llm, surface) == ANSWER  # a closed model opens new connections when used again
    llm.close()
    assert _settle(own_emulator) == 0


@pytest.mark.parametrize("surface", MODELS)
async def test_async_with_closes_the_async_pool(own_emulator, surface):
    async with MODELS[surface](model="m", base_url=own_emulator.base_url) as llm:
        assert await _aanswer(llm, surface) == ANSWER
    transport = llm.transport if surface == "core" else llm.client.transport
    assert not transport._aclients
    assert _settle(own_emulator) == 0


def test_a_pool_bound_to_a_finished_event_loop_is_released(own_emulator):
    client = ChatClient(model="m", base_url=own_emulator.base_url)
    for _ in range(20):  # each asyncio.run is a new loop, closed when it returns
        assert asyncio.run(client.ainvoke(Q)).text == ANSWER
    assert _settle(own_emulator) == 0  # nothing left open although the client is still alive
    assert len({r.client for r in own_emulator.requests}) == 20


def test_models_dropped_without_close_release_their_sockets(own_emulator):
    models = [MODELS[s](model="m", base_url=own_emulator.base_url) for s in MODELS for _ in range(5)]
    for llm in models:
        _answer(llm, "llamaindex" if isinstance(llm, DomesticLLM) else
                "langchain" if isinstance(llm, ChatDomestic) else "core")
    assert own_emulator.open_connections() == 15
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del models, llm
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []  # closed, not garbage-collected
    assert _settle(own_emulator) == 0


# ---- LlamaIndex stream cost ------------------------------------------------------------

def _work_of_one_add(acc: StreamAccumulator, chunk: ChatChunk) -> int:
    """Python and C function calls made by one `add` (a count of work, not a timing)."""
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profile)
    try:
        acc.add(chunk)
    finally:
        sys.setprofile(None)
    return calls


def _objects_held(acc: StreamAccumulator) -> int:
    """Objects reachable from the accumulator: a list of pieces would grow with every chunk."""
    seen, todo = set(), [acc]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        todo.extend(gc.get_referents(obj))
    return len(seen)


@pytest.mark.parametrize("tool_call", [True, False], ids=["validated responses", "fast-built responses"])
def test_llamaindex_stream_work_per_chunk_does_not_grow_with_the_answer(tool_call):
    acc = StreamAccumulator("openai")
    if tool_call:  # from here on every response is validated (it carries the tool call)
        acc.add(ChatChunk(0, "", tool_calls=[ToolCallDelta(0, "c1", "f", "{")]))
    early_work = early_held = 0
    for n in range(20000):
        chunk = ChatChunk(0, f"文{n % 10}", f"思{n % 10}")  # distinct string objects, as from a real stream
        if n == 100:
            early_work, early_held = _work_of_one_add(acc, chunk), _objects_held(acc)
        else:
            acc.add(chunk)
    assert _work_of_one_add(acc, ChatChunk(0, "文x", "思x")) == early_work
    assert _objects_held(acc) == early_held
    final = acc.add(ChatChunk(0, final=True, finish_reason="stop"))
    expected = "".join(f"文{n % 10}" for n in range(20000)) + "文x"
    assert final.message.content == expected and final.additional_kwargs["reasoning_content"].endswith("思9思x")


def test_event_loops_in_several_threads_share_one_model(own_emulator):
    from concurrent.futures import ThreadPoolExecutor

    own_emulator.state.delay = 0.01  # calls of different loops overlap
    client = ChatClient(model="m", base_url=own_emulator.base_url)

    async def three() -> list[str]:
        return [r.text for r in await asyncio.gather(*(client.ainvoke(Q) for _ in range(3)))]

    with ThreadPoolExecutor(4) as pool:
        answers = [a for batch in pool.map(lambda _: asyncio.run(three()), range(8)) for a in batch]
    assert answers == [ANSWER] * 24  # a loop taking a client never closes another loop's
    assert _settle(own_emulator) == 0
