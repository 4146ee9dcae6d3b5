"""A loopback OpenAI-style server of pre-encoded replies, for benchmarks only.

Every reply is built once and cached as the exact bytes of the HTTP response, so
serving one costs a dictionary lookup and one `write`: the clients, not the
server, are what is measured. A streamed reply sends each SSE event as its own
HTTP chunk (as vLLM does), so a client sees one network piece per event.

The model name chooses the reply: `bench-<N>` answers N content chunks of
`piece(i)` (three CJK characters each), then a finish chunk, a usage chunk and
`[DONE]`. `GET /stats` reports the server's own CPU time, which the benchmark
compares with the clients' to show the server is not the bottleneck.

    python benchmarks/server.py --port 0 [--cpu 1]   # prints the port, serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

_PIECES = ("长江黄", "河泰山", "华山衡", "山恒山", "嵩山东", "海南海")


def piece(i: int) -> str:
    """The text of content chunk `i` (3 characters, varying so no layer can cache it)."""
    return _PIECES[i % len(_PIECES)]


def answer_text(n: int) -> str:
    """The whole answer of an `n`-chunk reply: what every layer must put back together."""
    return "".join(piece(i) for i in range(n))


def _event(obj: dict | str) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def stream_events(n: int) -> list[bytes]:
    """The SSE events of an `n`-chunk streamed answer, as vLLM frames them."""
    model = f"bench-{n}"
    events = [_event(_chunk(model, {"role": "assistant", "content": ""}))]
    events += [_event(_chunk(model, {"content": piece(i)})) for i in range(n)]
    events.append(_event(_chunk(model, {}, "stop")))
    usage = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}
    events.append(_event({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": model,
                          "choices": [], "usage": usage}))
    events.append(_event("[DONE]"))
    return events


def stream_response(n: int) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in stream_events(n))
    return head + body + b"0\r\n\r\n"


def json_response(n: int) -> bytes:
    model = f"bench-{n}"
    body = json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text(n)},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n},
    }, ensure_ascii=False).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
    return head + body


class _Replies:
    def __init__(self) -> None:
        self.cache: dict[tuple[int, bool], bytes] = {}
        self.requests = 0

    def get(self, body: bytes) -> bytes:
        req = json.loads(body)
        n = int(str(req.get("model", "bench-1")).rpartition("-")[2] or 1)
        stream = bool(req.get("stream"))
        if (n, stream) not in self.cache:  # built once, both forms: a warm-up call of either warms both
            self.cache[(n, True)] = stream_response(n)
            self.cache[(n, False)] = json_response(n)
        self.requests += 1
        return self.cache[(n, stream)]


def _stats_response(replies: _Replies) -> bytes:
    body = json.dumps({"cpu_s": time.process_time(), "requests": replies.requests}).encode()
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, replies: _Replies) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /stats"):
                writer.write(_stats_response(replies))
            elif head.startswith(b"GET "):  # e.g. /v1/models, which some clients ask once: no models listed
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 28\r\n\r\n"
                             b'{"object":"list","data":[]}\n')
            else:
                writer.write(replies.get(body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(port: int) -> None:
    replies = _Replies()
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, replies), "127.0.0.1", port,
                                        backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = ap.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {args.cpu})
        except OSError as exc:
            print(f"(cannot pin to CPU {args.cpu}: {exc})", file=sys.stderr)
    try:
        asyncio.run(_main(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
