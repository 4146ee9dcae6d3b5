"""Bounded soak: 300 concurrent streams through one model instance, over loopback."""

from __future__ import annotations

import asyncio
import time
import resource

from langchain_domestic_llm import ChatDomestic

STREAMS = 300
POOL = 40


async def test_300_concurrent_astreams_through_one_instance(emulator, record_property):
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
    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(STREAMS))), timeout=240)
    elapsed = time.monotonic() - start
    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    for i, (text, reasoning, usage) in enumerate(results):
        assert text == f"你好！关于“问题{i}”：这是 domestic-llm 模拟器的回答。"
        assert reasoning == f"用户问的是“问题{i}”。先想清楚要点，再简洁作答。"
        assert usage["input_tokens"] == len(f"问题{i}") and usage["total_tokens"] > usage["input_tokens"]
    connections = {r.client for r in emulator.requests}
    assert len(emulator.requests) == STREAMS
    assert 1 < emulator.state.max_in_flight <= POOL  # streams overlapped, never beyond the pool's limit
    assert len(connections) <= POOL  # and the pooled connections were reused, not leaked
    pool = llm.client.transport.aclient._transport._pool  # noqa: SLF001 - observing, not using
    assert len(pool.connections) <= POOL
    await llm.client.aclose()
    report = (f"{STREAMS} streams in {elapsed:.1f}s, at most {emulator.state.max_in_flight} at once over "
              f"{len(connections)} connections, peak RSS growth {peak_growth_mb:.1f} MB")
    print(report)
    record_property("soak", report)
    assert peak_growth_mb < 200
