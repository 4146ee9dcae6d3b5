"""BENCHMARKS.md and the charts, from the results `benchmarks.bench` collected."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

CHARTS = Path(__file__).resolve().parent / "charts"
FLOOR = "raw httpx (floor)"
LC_FLOOR = "LangChain floor: BaseChatModel over raw httpx"
LI_FLOOR = "LlamaIndex floor: LLM over raw httpx"
#: async layer -> its sync twin
TWINS = {
    "raw httpx async (floor)": FLOOR,
    "core ChatClient.astream": "core ChatClient.stream",
    "bare BaseChatModel.astream (no I/O)": "bare BaseChatModel.stream (no I/O)",
    "bare LlamaIndex LLM.astream_chat (no I/O)": "bare LlamaIndex LLM.stream_chat (no I/O)",
    "ChatDomestic.astream": "ChatDomestic.stream",
    "LangChain floor: BaseChatModel over raw httpx, async": "LangChain floor: BaseChatModel over raw httpx",
    "LlamaIndex floor: LLM over raw httpx, async": "LlamaIndex floor: LLM over raw httpx",
    "ChatOpenAI.astream": "ChatOpenAI.stream",
    "DomesticLLM.astream_chat": "DomesticLLM.stream_chat",
    "OpenAILike.astream_chat": "OpenAILike.stream_chat",
}
#: our layer -> the peer layer it is compared with
PEERS = {
    "ChatDomestic.stream": "ChatOpenAI.stream",
    "ChatDomestic.astream": "ChatOpenAI.astream",
    "DomesticLLM.stream_chat": "OpenAILike.stream_chat",
    "DomesticLLM.astream_chat": "OpenAILike.astream_chat",
}
INVOKE_NAMES = {
    FLOOR: "raw httpx `Client.post` + `json.loads`",
    "raw httpx async (floor)": "raw httpx `AsyncClient.post` + `json.loads`",
    "core ChatClient.stream": "core `ChatClient.invoke`",
    "core ChatClient.astream": "core `ChatClient.ainvoke`",
    "ChatDomestic.stream": "`ChatDomestic.invoke`",
    "ChatDomestic.astream": "`ChatDomestic.ainvoke`",
    "ChatOpenAI.stream": "`ChatOpenAI.invoke`",
    "ChatOpenAI.astream": "`ChatOpenAI.ainvoke`",
    "DomesticLLM.stream_chat": "`DomesticLLM.chat`",
    "DomesticLLM.astream_chat": "`DomesticLLM.achat`",
    "OpenAILike.stream_chat": "`OpenAILike.chat`",
    "OpenAILike.astream_chat": "`OpenAILike.achat`",
    "LangChain floor: BaseChatModel over raw httpx": "LangChain floor: `BaseChatModel.invoke` over raw httpx",
    "LangChain floor: BaseChatModel over raw httpx, async": "LangChain floor: `BaseChatModel.ainvoke` over raw httpx",
    "LlamaIndex floor: LLM over raw httpx": "LlamaIndex floor: `LLM.chat` over raw httpx",
    "LlamaIndex floor: LLM over raw httpx, async": "LlamaIndex floor: `LLM.achat` over raw httpx",
    "bare BaseChatModel.stream (no I/O)": "bare `BaseChatModel.invoke` (no I/O: langchain-core's own cost)",
    "bare BaseChatModel.astream (no I/O)": "bare `BaseChatModel.ainvoke` (no I/O: langchain-core's own cost)",
    "bare LlamaIndex LLM.stream_chat (no I/O)": "bare LlamaIndex `LLM.chat` (no I/O: llama-index-core's own cost)",
    "bare LlamaIndex LLM.astream_chat (no I/O)": "bare LlamaIndex `LLM.achat` (no I/O: llama-index-core's own cost)",
}


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ratios(a: list[float], b: list[float]) -> list[float]:
    """Per-repeat ratios a/b (both lists are indexed by repeat)."""
    return [x / y for x, y in zip(a, b) if y]


def spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}–{max(xs):.2f}" if len(xs) > 1 else "–"


def repeats(k: int) -> str:
    return f"{k} repeat" + ("" if k == 1 else "s")


def cv(xs: list[float]) -> float:
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else 0.0


def per_chunk_stats(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per layer: CPU and wall µs per chunk, and per-repeat CPU ratios to the floor, the sync twin, the peer."""
    n, secs, walls = section["n"], section["cpu"], section["seconds"]
    floor = secs[FLOOR]
    out = {}
    for name, ts in secs.items():
        row: dict[str, Any] = {"us": med(ts) / n * 1e6, "wall_us": med(walls[name]) / n * 1e6,
                               "x_floor": ratios(ts, floor)}
        twin = TWINS.get(name)
        if twin in secs:
            row["x_twin"] = ratios(ts, secs[twin])
        peer = PEERS.get(name)
        if peer in secs:
            row["peer_x"] = ratios(secs[peer], ts)
        out[name] = row
    return out


def _fmt_ratio(xs: list[float] | None) -> str:
    return f"{med(xs):.2f}" if xs else ""


def render(results: dict[str, Any], charts: bool = True) -> str:
    m, v = results["machine"], results["versions"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{results['command']}` on {results['date']} in {results['elapsed_s']:.0f} s; "
        "do not edit by hand — rerun the command. How the run works: `benchmarks/bench.py`'s docstring.",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['os']}, Python {m['python']}; load average "
        f"{m['load_start'][0]:.1f} at start, {m['load_end'][0]:.1f} at end (other work was running: read the "
        "ratios, which are taken inside each repeat, rather than the absolute times).",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
    ]
    if results.get("missing"):
        lines += [f"Left out (package not installed): {', '.join(results['missing'])}.", ""]

    lines += [
        "Setup: a loopback server of pre-encoded replies (`benchmarks/server.py`, one HTTP chunk per SSE event, "
        "vLLM's framing, 3 CJK characters per chunk) in its own process pinned to CPU 1; clients pinned to CPU 0. "
        "Every layer runs interleaved with the others in each repeat (the order rotates between repeats); every "
        "timed run's text and number of text chunks are checked against what the server sent.",
        "",
        "Cost is the client process's **CPU time** (`time.process_time`): on a shared machine wall time also "
        "counts the time the client waited for a CPU, which other people's work decides. Wall times are shown "
        "beside it. Ratios are taken inside each repeat; the tables give their median and range.",
        "",
        "## Per-chunk streaming cost",
        "",
    ]
    all_rows = []
    for section in results["per_chunk"]:
        n = section["n"]
        stats = per_chunk_stats(section)
        all_rows.append((n, stats))
        floor, floor_wall = section["cpu"][FLOOR], section["seconds"][FLOOR]
        lines += [
            f"### {n:,}-chunk answers ({repeats(section['repeats'])})",
            "",
            "| layer | CPU µs / chunk | × floor | × floor range | × sync twin | peer is × costlier | wall µs / chunk |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in stats.items():
            lines.append(f"| {name} | {row['us']:.1f} | {_fmt_ratio(row['x_floor'])} | {spread(row['x_floor'])} | "
                         f"{_fmt_ratio(row.get('x_twin'))} | {_fmt_ratio(row.get('peer_x'))} | {row['wall_us']:.1f} |")
        lines += [
            "",
            f"Noise: across repeats the floor's CPU time varied by {cv(floor) * 100:.0f}% and its wall time by "
            f"{cv(floor_wall) * 100:.0f}% (coefficient of variation). Server CPU per {n:,}-chunk stream: "
            f"{section['server_cpu_per_stream'] * 1e3:.2f} ms, against {med(floor) * 1e3:.1f} ms of CPU for the "
            "floor client to read it.",
            "",
        ]
    srv = results["server"]
    lines += [
        f"**The server is not the bottleneck**: a client that only reads the bytes (raw socket, no parsing) "
        f"receives a {srv['n']:,}-chunk stream in {srv['drain_s'] * 1e3:.2f} ms of wall time, and the server "
        "spends the CPU time shown under each table per stream, a small fraction of what the cheapest client needs.",
        "",
    ]
    if charts:
        lines += ["![per-chunk cost](benchmarks/charts/per_chunk.png)", ""]

    inv = results["invoke"]
    secs, walls = inv["cpu"], inv["seconds"]
    lines += [
        f"## Non-streamed overhead above raw httpx ({inv['calls']} kept-alive calls × {repeats(inv['repeats'])}, "
        "20-chunk answers)",
        "",
        "| call | CPU µs per call | CPU overhead above raw httpx, µs | wall µs per call | wall overhead, µs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ts in secs.items():
        base = "raw httpx async (floor)" if name in TWINS and "raw httpx async (floor)" in secs else FLOOR
        diffs = [(a - b) * 1e6 for a, b in zip(ts, secs[base])]
        wall_diffs = [(a - b) * 1e6 for a, b in zip(walls[name], walls[base])]
        if name.startswith("bare"):  # no I/O: its whole cost is the framework's, there is no overhead to take
            lines.append(f"| {INVOKE_NAMES.get(name, name)} | {med(ts) * 1e6:.0f} | | {med(walls[name]) * 1e6:.0f} | |")
            continue
        lines.append(f"| {INVOKE_NAMES.get(name, name)} | {med(ts) * 1e6:.0f} | {med(diffs):+.0f} | "
                     f"{med(walls[name]) * 1e6:.0f} | {med(wall_diffs):+.0f} |")
    lines += ["", "Async calls are compared with raw httpx's `AsyncClient`, sync calls with its `Client`; overheads "
              "are medians of the per-repeat differences.", ""]

    fc = results["first_chunk"]
    lines += [
        f"## Time to first chunk ({fc['calls']} calls per layer, 20-chunk answers, loopback)",
        "",
        "| layer | ms to first text chunk (median) | above raw httpx, ms |",
        "|---|---:|---:|",
    ]
    base_fc = med(fc["seconds"][FLOOR])
    for name, ts in fc["seconds"].items():
        lines.append(f"| {name} | {med(ts) * 1e3:.2f} | {(med(ts) - base_fc) * 1e3:+.2f} |")
    lines.append("")

    imp = results["imports"]
    lines += [
        "## Import time (fresh interpreter each, loading compiled bytecode as an installed wheel does; median of repeats)",
        "",
        "| statement | after | ms added | ms for the `after` import itself | frameworks loaded in the end |",
        "|---|---|---:|---:|---|",
    ]
    for target, row in imp.items():
        lines.append(f"| `{target}` | {('`' + row['base'] + '`') if row['base'] else '(nothing)'} | "
                     f"{med(row['added']) * 1e3:.0f} | {med(row['base_s']) * 1e3:.0f} | "
                     f"{', '.join(row['frameworks']) or 'none'} |")
    if "import httpx" in imp:
        lines += ["", "`import httpx` is the HTTP client the core needs, so a floor under both class rows; httpx "
                  "also imports its own command line (click, rich, pygments) whenever those are installed."]
    lines.append("")

    cc = results["concurrency"]
    lines += [
        f"## {cc['streams']} concurrent `astream`s × {cc['n']} chunks (each layer in a fresh process)",
        "",
        "| layer | wall s | × raw httpx | CPU s | × raw httpx | peak memory growth, MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    raw = cc["layers"].get("raw httpx async (floor)", {})
    for name, row in cc["layers"].items():
        x = f"{row['wall_s'] / raw['wall_s']:.2f}" if raw else ""
        xc = f"{row['cpu_s'] / raw['cpu_s']:.2f}" if raw and raw.get("cpu_s") else ""
        lines.append(f"| {name} | {row['wall_s']:.2f} | {x} | {row['cpu_s']:.2f} | {xc} | {row['peak_mb']:.1f} |")
    lines += ["", "Peak memory growth: the process's peak RSS during the run minus its RSS just before it.", ""]
    if charts:
        lines += ["![concurrency](benchmarks/charts/concurrency.png)", ""]

    lines += bounds(all_rows)
    lines += invoke_bounds(results)
    lines += targets(results, all_rows)
    if charts:
        write_charts(results, all_rows)
    return "\n".join(lines) + "\n"


#: per adapter: its layer, the framework's own cost (a no-I/O model building its objects), the
#: smallest model of that framework over raw httpx, and words for the three
BOUNDS = (
    ("ChatDomestic.stream", "bare BaseChatModel.stream, building chunks (no I/O)", LC_FLOOR, "langchain-core",
     "a model yielding chunks it builds", "LangChain model", "`AIMessageChunk`"),
    ("DomesticLLM.stream_chat", "bare LlamaIndex LLM.stream_chat, building responses (no I/O)", LI_FLOOR,
     "llama-index-core", "an LLM yielding responses it builds, with its instrumentation event per chunk",
     "LlamaIndex LLM", "`ChatResponse`"),
)


def bounds(all_rows: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """What bounds each adapter per chunk: the core plus its framework's own work, from this run."""
    out = ["## What bounds the adapters", ""]
    for ours_name, bare_name, floor_name, framework, bare_words, model_words, object_words in BOUNDS:
        for n, stats in all_rows:
            names = ("core ChatClient.stream", bare_name, ours_name, FLOOR)
            if not all(name in stats for name in names):
                continue
            core, bare, ours, floor = (stats[name]["us"] for name in names)
            out.append(
                f"- {n:,} chunks: the core costs {core:.1f} µs per chunk and {framework} alone ({bare_words}, no "
                f"I/O) {bare:.1f} µs, so no adapter on this core can go below {core + bare:.1f} µs = "
                f"{(core + bare) / floor:.2f}× the floor; `{ours_name}` measured {ours:.1f} µs"
                + (f", leaving {ours - core - bare:.1f} µs per chunk for the adapter's own translation."
                   if ours - core - bare >= 1 else ": the adapter's own translation is within this run's noise."))
            framework_floor, ours_x = stats.get(floor_name, {}).get("x_floor"), stats[ours_name].get("x_floor")
            if framework_floor and ours_x:
                out.append(f"- {n:,} chunks: the smallest {model_words} over raw httpx (the floor's parsing, one "
                           f"validated {object_words} per delta) costs {med(framework_floor):.2f}× the floor; "
                           f"`{ours_name}` {med(ours_x):.2f}×.")
    out.append("")
    return out if len(out) > 3 else []


def invoke_bounds(results: dict[str, Any]) -> list[str]:
    """What bounds the non-streamed overhead: the framework's own call, measured over the same raw httpx."""
    secs = results["invoke"]["cpu"]
    out = []
    for floor, lc, ours, framework in (
            (FLOOR, LC_FLOOR, "ChatDomestic.stream", "LangChain chat model"),
            ("raw httpx async (floor)", LC_FLOOR + ", async", "ChatDomestic.astream", "LangChain chat model"),
            (FLOOR, LI_FLOOR, "DomesticLLM.stream_chat", "LlamaIndex LLM"),
            ("raw httpx async (floor)", LI_FLOOR + ", async", "DomesticLLM.astream_chat", "LlamaIndex LLM")):
        if not all(name in secs for name in (floor, lc, ours)):
            continue
        lc_d = med([(a - b) * 1e6 for a, b in zip(secs[lc], secs[floor])])
        ours_d = med([(a - b) * 1e6 for a, b in zip(secs[ours], secs[floor])])
        out.append(f"- {INVOKE_NAMES[lc]}: {lc_d:+.0f} µs above raw httpx; {INVOKE_NAMES[ours]}: {ours_d:+.0f} µs. "
                   f"The first is what any {framework} pays on top of its HTTP call; the difference is ours.")
    return ["## What bounds the non-streamed overhead", "", *out, ""] if out else []


def targets(results: dict[str, Any], all_rows: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """The goals of issue 17, each with the figure this run measured."""
    out = ["## Targets (issue 17)", "", "| target | measured | met |", "|---|---|---|"]

    def row(target: str, measured: str, ok: bool | None) -> None:
        out.append(f"| {target} | {measured} | {'yes' if ok else ('no' if ok is not None else 'n/a')} |")

    for n, stats in all_rows:
        def x(name: str) -> float | None:
            r = stats.get(name, {}).get("x_floor")
            return med(r) if r else None

        core = x("core ChatClient.stream")
        row(f"core stream ≤ 1.3× floor, CPU per chunk ({n:,})", f"{core:.2f}×" if core else "?", core is not None and core <= 1.3)
        for ours in ("ChatDomestic.stream", "DomesticLLM.stream_chat"):
            r = x(ours)
            if r is not None:
                row(f"{ours} ≤ 2× floor ({n:,})", f"{r:.2f}×", r <= 2)
            peer = stats.get(ours, {}).get("peer_x")
            if peer:
                row(f"{ours} ≥ 5× cheaper than {PEERS[ours]} ({n:,})", f"{med(peer):.2f}×", med(peer) >= 5)
        for a in ("ChatDomestic.astream", "DomesticLLM.astream_chat"):
            tw = stats.get(a, {}).get("x_twin")
            if tw:
                row(f"{a} ≤ 1.1× {TWINS[a]} ({n:,})", f"{med(tw):.2f}×", med(tw) <= 1.1)
    secs = results["invoke"]["cpu"]
    for name in ("ChatDomestic.stream", "DomesticLLM.stream_chat"):
        if name in secs:
            d = med([(a - b) * 1e6 for a, b in zip(secs[name], secs[FLOOR])])
            row(f"{INVOKE_NAMES[name]} overhead < 200 µs (CPU)", f"{d:.0f} µs", d < 200)
    cc = results["concurrency"]["layers"]
    raw = cc.get("raw httpx async (floor)")
    peer_mem = cc.get("ChatOpenAI.astream", {}).get("peak_mb")
    for name in ("ChatDomestic.astream", "DomesticLLM.astream_chat"):
        if name in cc and raw:
            w = cc[name]["wall_s"] / raw["wall_s"]
            row(f"{name}: {results['concurrency']['streams']} concurrent, wall ≤ 2.5× raw httpx", f"{w:.2f}×", w <= 2.5)
            if peer_mem:
                mem = cc[name]["peak_mb"]
                row(f"{name}: memory growth < 1/10 of ChatOpenAI's", f"{mem:.1f} MB vs {peer_mem:.1f} MB",
                    mem < peer_mem / 10)
    imp = results["imports"]
    for stmt in ("from langchain_domestic_llm import ChatDomestic", "from llamaindex_domestic_llm import DomesticLLM",
                 "import langchain_domestic_llm", "import llamaindex_domestic_llm"):
        if stmt in imp:
            ms = med(imp[stmt]["added"]) * 1e3
            row(f"`{stmt}` adds < 50 ms to `{imp[stmt]['base']}`", f"{ms:.0f} ms", ms < 50)
    if "import domestic_llm" in imp:
        fw = imp["import domestic_llm"]["frameworks"]
        row("importing the core imports neither framework", ", ".join(fw) or "neither", not fw)
    out.append("")
    return out


def write_charts(results: dict[str, Any], all_rows: list[tuple[int, dict[str, Any]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(exist_ok=True)
    names = list(all_rows[0][1])
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    height = 0.8 / len(all_rows)
    for i, (n, stats) in enumerate(all_rows):
        ys = [j + i * height for j in range(len(names))]
        ax.barh(ys, [stats[name]["us"] if name in stats else 0 for name in names], height=height,
                label=f"{n:,}-chunk answers")
    ax.set_yticks([j + height * (len(all_rows) - 1) / 2 for j in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xlabel("client CPU µs per chunk (median; lower is better)")
    ax.set_title("Streaming cost per chunk")
    ax.legend()
    fig.tight_layout()
    fig.savefig(CHARTS / "per_chunk.png", dpi=90)
    plt.close(fig)

    cc = results["concurrency"]
    names = list(cc["layers"])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 0.45 * len(names) + 1.5), sharey=True)
    a1.barh(names, [cc["layers"][k]["wall_s"] for k in names], color="tab:blue")
    a1.set_xlabel("wall time, s")
    a1.invert_yaxis()
    a2.barh(names, [cc["layers"][k]["peak_mb"] for k in names], color="tab:orange")
    a2.set_xlabel("peak memory growth, MB")
    fig.suptitle(f"{cc['streams']} concurrent astreams × {cc['n']} chunks")
    fig.tight_layout()
    fig.savefig(CHARTS / "concurrency.png", dpi=90)
    plt.close(fig)
