"""Per-chunk overhead of streaming, measured against a floor and a peer in the same run.

    .venv/bin/pip install langchain-openai   # the peer (optional)
    .venv/bin/python benchmarks/stream_overhead.py [--pieces 2000] [--rounds 5]

All contenders read the same emulator stream (one long answer of N pieces, no
delay) over loopback; the best of R rounds is reported per contender, as wall
time per chunk. The floor is httpx + a line split + json.loads: what any client
must at least do. Not run in CI (timing on shared runners is noise).
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from domestic_llm import ChatClient
from domestic_llm.testing import Emulator, Reply
from langchain_domestic_llm import ChatDomestic


def floor(emu: Emulator, body: dict) -> int:
    n = 0
    with httpx.stream("POST", emu.base_url + "/chat/completions", json={**body, "stream": True}) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                json.loads(line[6:])
                n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pieces", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    text = "长江黄河" * (args.pieces * 3 // 4)  # 3 characters per streamed piece
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    with Emulator() as emu:
        core = ChatClient(model="m", base_url=emu.base_url)
        chat = ChatDomestic(model="m", base_url=emu.base_url)
        contenders = {
            "floor: httpx + json.loads": lambda: floor(emu, body),
            "domestic_llm.ChatClient.stream": lambda: sum(1 for _ in core.stream("q")),
            "ChatDomestic.stream": lambda: sum(1 for _ in chat.stream("q")),
        }
        try:
            from langchain_openai import ChatOpenAI

            peer = ChatOpenAI(model="m", base_url=emu.base_url, api_key="x", stream_usage=True)
            contenders["peer: ChatOpenAI.stream"] = lambda: sum(1 for _ in peer.stream("q"))
        except ImportError:
            print("(langchain-openai not installed: no peer)")
        print(f"{args.pieces} pieces per answer, best of {args.rounds} rounds\n")
        print(f"{'contender':36} {'chunks':>7} {'total ms':>9} {'µs/chunk':>9}")
        for name, run in contenders.items():
            best = float("inf")
            chunks = 0
            for _ in range(args.rounds):
                emu.script([Reply(text=text)])
                t = time.perf_counter()
                chunks = run()
                best = min(best, time.perf_counter() - t)
            print(f"{name:36} {chunks:7d} {best * 1e3:9.1f} {best / max(chunks, 1) * 1e6:9.1f}")


if __name__ == "__main__":
    main()
