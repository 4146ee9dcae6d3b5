"""`make bench`: domestic-llm against the floor and its peers, in one run, on one machine.

    make bench                                   # installs the `bench` extra, runs everything
    .venv/bin/python -m benchmarks.bench [--quick] [--repeats 5] [--no-write]

Sections (each layer interleaved with the others, repeated; medians reported,
ratios taken inside each repeat so machine load cancels out):

* per-chunk streaming cost for 2,000- and 20,000-chunk answers;
* non-streamed overhead above raw httpx over a few hundred kept-alive calls;
* time to first chunk;
* import time, each measurement in a fresh interpreter loading compiled bytecode (as from a wheel);
* 200 concurrent `astream`s: wall time and peak memory, each layer in a fresh process.

The server (`benchmarks/server.py`) runs in its own process, pinned to the other
CPU, and serves pre-encoded bytes; its CPU time is reported next to the clients'
to show it is not the bottleneck. Every layer's answer is checked (same text,
same number of text chunks) on every timed run: a wrong answer aborts the run.
Results go to BENCHMARKS.md, benchmarks/charts/*.png and benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks import layers as L
from benchmarks.server import answer_text

ROOT = Path(__file__).resolve().parent.parent
SERVER = Path(__file__).resolve().parent / "server.py"
CLIENT_CPU, SERVER_CPU = 0, 1


class WrongAnswer(AssertionError):
    """A layer's streamed or returned answer differs from what the server sent."""


@dataclass
class Run:
    seconds: float  # wall time
    cpu: float  # this process's CPU time: the client's work, whatever else the machine is doing
    first: float  # seconds to the first text chunk
    text: str
    chunks: int  # chunks that carried text


# ---- consuming a layer -------------------------------------------------------------------


def _consume(it: Any) -> Run:
    parts: list[str] = []
    first = 0.0
    c0, t0 = time.process_time(), time.perf_counter()
    for text in it:
        if text:
            if not parts:
                first = time.perf_counter()
            parts.append(text)
    t1, c1 = time.perf_counter(), time.process_time()
    return Run(t1 - t0, c1 - c0, first - t0, "".join(parts), len(parts))


async def _aconsume(it: Any) -> Run:
    parts: list[str] = []
    first = 0.0
    c0, t0 = time.process_time(), time.perf_counter()
    async for text in it:
        if text:
            if not parts:
                first = time.perf_counter()
            parts.append(text)
    t1, c1 = time.perf_counter(), time.process_time()
    return Run(t1 - t0, c1 - c0, first - t0, "".join(parts), len(parts))


def check(name: str, n: int, text: str, chunks: int | None) -> None:
    expected = answer_text(n)
    if text != expected:
        raise WrongAnswer(f"{name}: answer of {len(text)} characters differs from the {len(expected)} sent "
                          f"(first difference at {next((i for i, (a, b) in enumerate(zip(text, expected)) if a != b), min(len(text), len(expected)))})")
    if chunks is not None and chunks != n:
        raise WrongAnswer(f"{name}: {chunks} text chunks, the server sent {n}")


def stream_once(layer: L.Layer, n: int, loop: asyncio.AbstractEventLoop, collect: bool = True) -> Run:
    layer.prepare(n, loop)
    if collect:  # start each long run with no garbage left by the previous layer
        gc.collect()
    run = loop.run_until_complete(_aconsume(layer.stream(n))) if layer.is_async else _consume(layer.stream(n))
    check(layer.name, n, run.text, run.chunks)
    return run


def invoke_many(layer: L.Layer, n: int, calls: int, loop: asyncio.AbstractEventLoop) -> tuple[float, float]:
    """Wall and CPU seconds per call over `calls` kept-alive calls (every answer checked)."""
    gc.collect()
    if layer.is_async:
        async def many() -> list[str]:
            return [await layer.invoke(n) for _ in range(calls)]

        c0, t0 = time.process_time(), time.perf_counter()
        texts = loop.run_until_complete(many())
    else:
        c0, t0 = time.process_time(), time.perf_counter()
        texts = [layer.invoke(n) for _ in range(calls)]
    seconds, cpu = (time.perf_counter() - t0) / calls, (time.process_time() - c0) / calls
    for text in texts:
        check(layer.name + " (invoke)", n, text, None)
    return seconds, cpu


# ---- the server ----------------------------------------------------------------------------


class Server:
    def __init__(self) -> None:
        cpu = ["--cpu", str(SERVER_CPU)] if _cpus() >= 2 else []
        self.proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0", *cpu], stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, float]:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats").json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def drain(port: int, n: int, times: int) -> float:
    """Seconds per stream for a client that only reads the bytes: what the server and kernel can deliver."""
    body = json.dumps({"model": L.model_name(n), "messages": L.MESSAGES, "stream": True}).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))
    total = 0.0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(times):
            t0 = time.perf_counter()
            sock.sendall(request)
            tail = b""
            while not tail.endswith(b"\r\n0\r\n\r\n"):
                data = sock.recv(1 << 20)
                if not data:
                    raise WrongAnswer("server closed the connection")
                tail = (tail + data)[-16:]
            total += time.perf_counter() - t0
    return total / times


# ---- sections --------------------------------------------------------------------------------


def per_chunk(layers: list[L.Layer], n: int, repeats: int, loop: asyncio.AbstractEventLoop,
              server: Server) -> dict[str, Any]:
    times: dict[str, list[float]] = {layer.name: [] for layer in layers}
    cpu: dict[str, list[float]] = {layer.name: [] for layer in layers}
    before = server.stats()
    for r in range(repeats):
        order = layers[r % len(layers):] + layers[:r % len(layers)]  # rotate: no layer always goes first
        for layer in order:
            run = stream_once(layer, n, loop)
            times[layer.name].append(run.seconds)
            cpu[layer.name].append(run.cpu)
        print(f"  {n} chunks: repeat {r + 1}/{repeats} done", flush=True)
    after = server.stats()
    streams = after["requests"] - before["requests"]
    return {"n": n, "repeats": repeats, "seconds": times, "cpu": cpu,
            "server_cpu_per_stream": (after["cpu_s"] - before["cpu_s"]) / max(streams, 1)}


def invoke_overhead(layers: list[L.Layer], calls: int, repeats: int, loop: asyncio.AbstractEventLoop) -> dict:
    layers = [layer for layer in layers if layer.invokes]
    n = 20
    for layer in layers:  # warm: build the client, open the connection
        invoke_many(layer, n, 3, loop)
    per_call: dict[str, list[float]] = {layer.name: [] for layer in layers}
    cpu: dict[str, list[float]] = {layer.name: [] for layer in layers}
    for r in range(repeats):
        order = layers[r % len(layers):] + layers[:r % len(layers)]
        for layer in order:
            wall, used = invoke_many(layer, n, calls, loop)
            per_call[layer.name].append(wall)
            cpu[layer.name].append(used)
    return {"calls": calls, "repeats": repeats, "seconds": per_call, "cpu": cpu}


def first_chunk(layers: list[L.Layer], calls: int, loop: asyncio.AbstractEventLoop) -> dict:
    layers = [layer for layer in layers if layer.io]  # the bare model does no I/O
    n = 20
    firsts: dict[str, list[float]] = {layer.name: [] for layer in layers}
    for _ in range(calls):
        for layer in layers:
            firsts[layer.name].append(stream_once(layer, n, loop, collect=False).first)
    return {"calls": calls, "seconds": firsts}


_IMPORTS = [
    # (what is measured, what is imported first in the same fresh interpreter)
    ("import domestic_llm", ""),
    # what users write: the class, after the framework's base class it derives from
    ("from langchain_domestic_llm import ChatDomestic", "from langchain_core.language_models import BaseChatModel"),
    ("from langchain_openai import ChatOpenAI", "from langchain_core.language_models import BaseChatModel"),
    ("from llamaindex_domestic_llm import DomesticLLM",
     "from llama_index.core.llms.function_calling import FunctionCallingLLM"),
    ("from llama_index.llms.openai_like import OpenAILike",
     "from llama_index.core.llms.function_calling import FunctionCallingLLM"),
    # the HTTP client every instance needs: a floor under both class rows above
    ("import httpx", "from langchain_core.language_models import BaseChatModel"),
    # the packages alone (lazy __init__s: the classes load on first use)
    ("import langchain_domestic_llm", "import langchain_core.language_models"),
    ("import llamaindex_domestic_llm", "import llama_index.core.llms"),
]

_IMPORT_CHILD = """
import json, sys, time
t0 = time.perf_counter()
exec({base!r})
t1 = time.perf_counter()
exec({target!r})
t2 = time.perf_counter()
print(json.dumps({{"base": t1 - t0, "added": t2 - t1,
                  "frameworks": sorted(m for m in ("langchain_core", "llama_index.core") if m in sys.modules)}}))
"""


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _pinned(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(CLIENT_CPU), *cmd] if _cpus() >= 2 and _has("taskset") else cmd


def _import_env(pycache: str) -> dict[str, str]:
    """Children that load compiled bytecode, as an installed wheel does (pip compiles it at install).

    Without it, a PYTHONDONTWRITEBYTECODE environment recompiles this checkout's modules from source
    in every child, while the peers' come compiled from site-packages. Every package's bytecode goes
    to one scratch directory (written by a warm-up run), so the checkout is left as it was.
    """
    env = {k: v for k, v in _child_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": pycache}


def imports(repeats: int) -> dict:
    import tempfile

    rows: dict[str, dict[str, Any]] = {}
    for target, base in _IMPORTS:
        module = target.split()[1]
        try:
            import importlib.util

            if importlib.util.find_spec(module.split(".")[0]) is None:
                continue
        except ModuleNotFoundError:
            continue
        rows[target] = {"base": base, "added": [], "base_s": [], "frameworks": None}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        env = _import_env(pycache)
        for repeat in range(repeats + 1):  # the first pass only writes the bytecode
            for target, row in rows.items():
                out = subprocess.run(
                    _pinned([sys.executable, "-c", _IMPORT_CHILD.format(base=row["base"], target=target)]),
                    capture_output=True, text=True, env=env, check=True)
                if repeat:
                    result = json.loads(out.stdout)
                    row["added"].append(result["added"])
                    row["base_s"].append(result["base"])
                    row["frameworks"] = result["frameworks"]
    return rows


def concurrency(layer_names: list[str], port: int, streams: int, n: int) -> dict:
    out: dict[str, Any] = {}
    for name in layer_names:
        proc = subprocess.run(
            _pinned([sys.executable, "-m", "benchmarks.bench", "--child-concurrency", name, "--port", str(port),
                     "--streams", str(streams), "--chunks", str(n)]),
            capture_output=True, text=True, env=_child_env(), cwd=ROOT,
        )
        if proc.returncode != 0:
            raise WrongAnswer(f"concurrency child for {name} failed:\n{proc.stderr[-3000:]}")
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  {name}: {out[name]['wall_s']:.2f} s, +{out[name]['peak_mb']:.0f} MB", flush=True)
    return out


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> None:
    # "5" resets VmHWM (Linux >= 4.0); without it the peak includes what came before the run
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def child_concurrency(name: str, port: int, streams: int, n: int) -> None:
    """One layer, `streams` concurrent streams, in this fresh process; prints a JSON line."""
    layer = L.by_name(name)(f"http://127.0.0.1:{port}/v1", max_connections=streams)

    async def main() -> dict[str, float]:
        await _aconsume(layer.stream(n))  # warm: imports, client, one connection
        gc.collect()
        gc.freeze()  # as in the main process: what the imports left is not this run's work
        rss0 = _status_kb("VmRSS")
        _reset_peak_rss()
        c0, t0 = time.process_time(), time.perf_counter()
        runs = await asyncio.gather(*(_aconsume(layer.stream(n)) for _ in range(streams)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _status_kb("VmHWM")  # the process's peak RSS (since the reset above)
        for run in runs:
            check(name, n, run.text, run.chunks)
        return {"wall_s": wall, "cpu_s": cpu, "peak_mb": max(0, peak - rss0) / 1024, "rss0_mb": rss0 / 1024}

    print(json.dumps(asyncio.run(main())))


# ---- helpers ---------------------------------------------------------------------------------


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _has(tool: str) -> bool:
    from shutil import which

    return which(tool) is not None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}", "load_start": os.getloadavg()}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("domestic-llm", "httpx", "pydantic", "langchain-core", "langchain-openai", "openai",
                 "llama-index-core", "llama-index-llms-openai-like", "llama-index-llms-openai"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


# ---- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="domestic-llm benchmarks (see BENCHMARKS.md)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every section (~1 min)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the 2,000-chunk section")
    ap.add_argument("--long-repeats", type=int, default=2, help="repeats of the 20,000-chunk section")
    ap.add_argument("--calls", type=int, default=200, help="kept-alive non-streamed calls per layer and repeat")
    ap.add_argument("--call-repeats", type=int, default=3, help="repeats of the non-streamed section")
    ap.add_argument("--streams", type=int, default=200, help="concurrent astreams")
    ap.add_argument("--concurrent-chunks", type=int, default=200, help="chunks per concurrent stream")
    ap.add_argument("--no-write", action="store_true", help="print, but do not rewrite BENCHMARKS.md and charts")
    ap.add_argument("--child-concurrency", metavar="LAYER", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--chunks", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_concurrency:
        child_concurrency(args.child_concurrency, args.port, args.streams, args.chunks)
        return 0

    sizes = [(2000, args.repeats), (20000, args.long_repeats)]
    calls, streams, cchunks, ttfc_calls, import_repeats = args.calls, args.streams, args.concurrent_chunks, 30, 3
    if args.quick:
        sizes = [(200, 2), (2000, 1)]
        calls, streams, cchunks, ttfc_calls, import_repeats = 20, 20, 50, 3, 1

    if _cpus() >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {CLIENT_CPU})
    started = time.perf_counter()

    def say(what: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {what}", flush=True)

    results: dict[str, Any] = {"machine": machine(), "versions": versions(), "command": _command(args),
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    classes, missing = L.available()
    results["missing"] = missing
    if missing:
        print(f"left out (package not installed): {', '.join(missing)}  -- `make bench` installs them")
    server = Server()
    loop = asyncio.new_event_loop()
    try:
        layers: list[L.Layer] = []
        layers += [cls(server.base_url) for cls in classes]
        say("checking every layer's answers ...")
        for layer in layers:  # warm-up, and a first correctness check of stream and invoke
            stream_once(layer, 50, loop)
            if layer.invokes:
                invoke_many(layer, 50, 1, loop)
        # This process holds every framework at once; freezing what is loaded now keeps one
        # layer's import footprint from taxing another's garbage collections (and keeps the
        # gc.collect() before each timed run cheap).
        gc.collect()
        gc.freeze()

        n0 = sizes[0][0]
        results["server"] = {"n": n0, "drain_s": statistics.median(drain(server.port, n0, 5) for _ in range(3))}
        for n, repeats in sizes:
            gc.collect()
            gc.freeze()  # again: clients built since then are not garbage either
            say(f"per-chunk cost, {n} chunks x {repeats} repeats ...")
            results.setdefault("per_chunk", []).append(per_chunk(layers, n, repeats, loop, server))
        call_repeats = 1 if args.quick else args.call_repeats
        say(f"non-streamed overhead, {calls} calls x {call_repeats} repeats ...")
        results["invoke"] = invoke_overhead(layers, calls, call_repeats, loop)
        say("time to first chunk ...")
        results["first_chunk"] = first_chunk(layers, ttfc_calls, loop)
        say("import times (fresh interpreters) ...")
        results["imports"] = imports(import_repeats)
        say(f"{streams} concurrent astreams x {cchunks} chunks (fresh process per layer) ...")
        async_names = [layer.name for layer in layers if layer.is_async and layer.io]
        results["concurrency"] = {"streams": streams, "n": cchunks,
                                  "layers": concurrency(async_names, server.port, streams, cchunks)}
    finally:
        for layer in layers:
            layer.close(loop)
        loop.close()
        server.stop()
    results["machine"]["load_end"] = os.getloadavg()
    results["elapsed_s"] = time.perf_counter() - started

    from benchmarks.report import render

    text = render(results, charts=not args.no_write)
    print(text)
    if not args.no_write:
        (ROOT / "BENCHMARKS.md").write_text(text)
        (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote BENCHMARKS.md, benchmarks/charts/, benchmarks/results.json in {results['elapsed_s']:.0f} s")
    return 0


def _command(args: argparse.Namespace) -> str:
    return "make bench" if sys.argv[1:] == [] else "python -m benchmarks.bench " + " ".join(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
