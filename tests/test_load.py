"""Bounded soak: 300 concurrent streams through one model instance, over loopback.

Only invariants that hold on any machine, however loaded: every answer exact, never
more connections open than `max_connections`, every socket closed at the end. How
many distinct connections the pool used over the run is not one of them: a busy
machine lets pooled connections expire and be replaced, which is not a leak.
"""

from __future__ import annotations

import asyncio
import resource
import time

import pytest

from domestic_llm.testing import Emulator
from langchain_domestic_llm import ChatDomestic

STREAMS = 300
POOL = 40


async def _wait_for(condition, seconds: float = 20.0) -> bool:
    """Poll `condition` until it holds (the server notices closed sockets asynchronously)."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture
def own_emulator():
    """A server of its own: connections other tests' models keep pooled must not count here."""
    with Emulator(delay=0.002) as emu:
        yield emu


async def test_300_concurrent_astreams_through_one_instance(own_emulator, record_property):
    emulator = own_emulator
    emulator.state.delay = 0.002  # keep streams open long enough to overlap
    llm = ChatDomestic(model="deepseek-r1-distill-qwen-32b", base_url=emulator.base_url, max_connections=POOL,
                       timeout=60)

    async def one(i: int) -> tuple[str, str, dict]:
        text, reasoning, usage = [], [], None
        async for chunk in llm.astream(f"问题{i}"):
            text.append(chunk.content)
            reasoning.append(chunk.additional_kwargs.get("reasoning_content", ""))
            usage = chunk.usage_metadata or usage
        return "".join(text), "".join(reasoning), usage

    # peak RSS (not tracemalloc, whose slowdown alone makes pooled connections idle-expire)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    async with llm:
        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(STREAMS))), timeout=240)
    elapsed = time.monotonic() - start
    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    for i, (text, reasoning, usage) in enumerate(results):
        assert text == f"你好！关于“问题{i}”：这是 domestic-llm 模拟器的回答。"
        assert reasoning == f"用户问的是“问题{i}”。先想清楚要点，再简洁作答。"
        assert usage["input_tokens"] == len(f"问题{i}") and usage["total_tokens"] > usage["input_tokens"]
    assert len(emulator.requests) == STREAMS
    assert 1 <= emulator.state.max_open_connections <= POOL  # never more open at once than the pool allows
    assert emulator.state.max_in_flight <= POOL
    assert await _wait_for(lambda: emulator.open_connections() == 0)  # every socket closed after aclose
    report = (f"{STREAMS} streams in {elapsed:.1f}s, at most {emulator.state.max_in_flight} at once over at most "
              f"{emulator.state.max_open_connections} open connections, peak RSS growth {peak_growth_mb:.1f} MB")
    print(report)
    record_property("soak", report)
    assert peak_growth_mb < 200
