"""The benchmark suite's own correctness (never its timings): `make bench` must not rot.

Every layer of ours (and the floor and the bare LangChain model) is run against the
benchmark's pre-encoded server over a real loopback socket with a small answer, the
answer check is shown to reject wrong answers, and a small run renders a report.
The peers (`bench` extra) are not needed here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from benchmarks import bench, report
from benchmarks import layers as L
from benchmarks.server import answer_text, stream_events

OURS = [L.RawHttpx, L.RawHttpxAsync, L.Core, L.CoreAsync, L.BareChatModelSync, L.BareChatModelAsync,
        L.BareBuildingChunks, L.LangChainOverHttpx, L.LangChainOverHttpxAsync, L.ChatDomesticSync, L.ChatDomesticAsync,
        L.DomesticLLMSync, L.DomesticLLMAsync, L.BareLLMSync, L.BareLLMAsync, L.BareLLMBuilding,
        L.LlamaIndexOverHttpx, L.LlamaIndexOverHttpxAsync]


@pytest.fixture(scope="module")
def server() -> Iterator[bench.Server]:
    s = bench.Server()
    yield s
    s.stop()


@pytest.fixture()
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def test_server_frames_like_vllm() -> None:
    events = stream_events(2)
    assert events[0].startswith(b'data: {"id":"chatcmpl-bench"') and events[-1] == b"data: [DONE]\n\n"
    assert "长江黄".encode() in events[1] and b'"finish_reason":"stop"' in events[-3]
    assert b'"completion_tokens":2' in events[-2]


@pytest.mark.parametrize("cls", OURS, ids=lambda c: c.name)
def test_layer_returns_the_exact_answer(cls: type[L.Layer], server: bench.Server,
                                        loop: asyncio.AbstractEventLoop) -> None:
    layer = cls(server.base_url)
    try:
        run = bench.stream_once(layer, 37, loop)
        assert (run.text, run.chunks) == (answer_text(37), 37)
        assert 0 < run.first <= run.seconds
        if layer.invokes:
            call = layer.invoke(11)
            text = loop.run_until_complete(call) if layer.is_async else call
            assert text == answer_text(11)
    finally:
        layer.close(loop)


class _DropsOne(L.Core):
    name = "drops one chunk"

    def stream(self, n: int) -> Iterator[str]:
        for i, text in enumerate(super().stream(n)):
            if i != 5:
                yield text


class _MergesTwo(L.Core):
    name = "merges two chunks"

    def stream(self, n: int) -> Iterator[str]:
        held = ""
        for i, text in enumerate(super().stream(n)):
            if i == 3:
                held = text
            else:
                yield held + text
                held = ""


@pytest.mark.parametrize("cls, why", [(_DropsOne, "differs"), (_MergesTwo, "text chunks")])
def test_wrong_answers_abort_the_benchmark(cls: type[L.Layer], why: str, server: bench.Server,
                                           loop: asyncio.AbstractEventLoop) -> None:
    layer = cls(server.base_url)
    with pytest.raises(bench.WrongAnswer, match=why):
        bench.stream_once(layer, 20, loop)
    layer.close(loop)


def test_a_small_run_renders_every_section(server: bench.Server, loop: asyncio.AbstractEventLoop) -> None:
    layers = [cls(server.base_url) for cls in (L.RawHttpx, L.RawHttpxAsync, L.Core, L.BareChatModelSync,
                                               L.ChatDomesticSync, L.ChatDomesticAsync, L.DomesticLLMSync)]
    started = time.perf_counter()
    try:
        results = _small_run(layers, server, loop)
    finally:
        for layer in layers:
            layer.close(loop)
    results["elapsed_s"] = time.perf_counter() - started
    text = report.render(results, charts=False)
    for heading in ("## Per-chunk streaming cost", "### 30-chunk answers (2 repeats)", "## Non-streamed overhead",
                    "## Time to first chunk", "## Import time", "## 4 concurrent", "## Targets (issue 17)"):
        assert heading in text
    assert "| core ChatClient.stream |" in text and "| ChatDomestic.astream |" in text
    assert "| bare `BaseChatModel.invoke` (no I/O: langchain-core's own cost) |" in text
    assert "Left out (package not installed): ChatOpenAI.stream." in text


def _small_run(layers: list[L.Layer], server: bench.Server, loop: asyncio.AbstractEventLoop) -> dict:
    return {
        "machine": {**bench.machine(), "load_end": (0.0, 0.0, 0.0)},
        "versions": bench.versions(),
        "command": "pytest",
        "date": "today",
        "missing": ["ChatOpenAI.stream"],
        "server": {"n": 30, "drain_s": bench.drain(server.port, 30, 2)},
        "per_chunk": [bench.per_chunk(layers, 30, 2, loop, server)],
        "invoke": bench.invoke_overhead(layers, 2, 1, loop),
        "first_chunk": bench.first_chunk(layers, 1, loop),
        "imports": {},
        "concurrency": {"streams": 4, "n": 10,
                        "layers": bench.concurrency(["core ChatClient.astream"], server.port, 4, 10)},
    }