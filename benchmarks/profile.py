"""Profile one benchmark layer: CPU per chunk against the floor, then where the time goes.

    .venv/bin/python -m benchmarks.profile "ChatDomestic.stream" [--n 2000] [--runs 5] [--top 25] [--invoke]

Starts `benchmarks/server.py`, runs the floor and the layer interleaved `--runs` times and
prints their CPU µs per chunk (or per call with `--invoke`), then runs the layer once more
under cProfile and prints the functions with the most own time. For finding what to
optimise; the numbers that count are `make bench`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics

from benchmarks import bench
from benchmarks import layers as L


def _once(layer: L.Layer, n: int, loop: asyncio.AbstractEventLoop, invoke: bool, calls: int) -> float:
    if invoke:
        layer.prepare(n, loop)
        return bench.invoke_many(layer, n, calls, loop)[1] * 1e6
    return bench.stream_once(layer, n, loop).cpu / n * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("layer", help="a layer's name, as in BENCHMARKS.md (e.g. 'ChatDomestic.stream')")
    p.add_argument("--n", type=int, default=2000, help="chunks per answer (20 with --invoke)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--invoke", action="store_true", help="non-streamed calls instead of streams")
    p.add_argument("--calls", type=int, default=200, help="calls per run with --invoke")
    p.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime)")
    args = p.parse_args(argv)
    n = 20 if args.invoke and args.n == 2000 else args.n
    cls = L.by_name(args.layer)
    floor_cls = L.RawHttpxAsync if cls.is_async else L.RawHttpx
    server = bench.Server()
    loop = asyncio.new_event_loop()
    layer, floor = cls(server.base_url), floor_cls(server.base_url)
    try:
        mine, base = [], []
        for _ in range(args.runs):
            base.append(_once(floor, n, loop, args.invoke, args.calls))
            mine.append(_once(layer, n, loop, args.invoke, args.calls))
        unit = "call" if args.invoke else "chunk"
        ratios = [m / b for m, b in zip(mine, base)]
        print(f"{floor.name}: {statistics.median(base):.1f} µs/{unit}   {layer.name}: "
              f"{statistics.median(mine):.1f} µs/{unit}   ratio {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}–{max(ratios):.2f})")
        profiler = cProfile.Profile()
        profiler.enable()
        _once(layer, n, loop, args.invoke, args.calls)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    finally:
        layer.close(loop)
        floor.close(loop)
        loop.close()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
