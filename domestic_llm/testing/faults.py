"""Emulator faults: the misbehaviours a test can ask the emulator for (`Emulator.fault`).

Each is what some real server or gateway does: errors hidden in 200 answers or
streams, servers that ignore `stream=true`, redirects, bodies that are no stream,
slow or silent servers, dropped connections, damaged lines.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .dialects import EmulatedDialect
from .serving import DroppedConnection


@dataclass
class Fault:
    """A misbehaviour for the next `times` requests (see `Emulator.fault`).

    Refusals: `status` answers with that HTTP status (and `retry_after`) and `body`
    (default: the dialect's error body) instead of an answer; `Fault(status=200,
    body={"code": 500, "msg": "推理服务繁忙"})` is an error hidden in a 200. `redirect`
    answers 307 with that `Location`; `raw` answers 200 with exactly those bytes
    (`content_type`, default `text/plain`); `hang` waits that many seconds before
    answering at all.

    Non-streaming servers: `ignore_stream` answers a stream request with the complete
    JSON answer (labelled `content_type`, default `application/json`); `trickle`
    sends a non-streamed body in eight pieces that many seconds apart.

    Stream faults: cut the connection after `drop_after_chunks` events; go silent (or
    send only keep-alives every `keepalive_interval` seconds) after
    `stall_after_chunks`; damage lines; or, after `error_after_chunks` events, send
    `error_event` (a JSON object or text) as a data event, with an `event:` line
    `error_event_name` when set, then the end-of-stream marker.
    Slow-drip bytes are `Emulator(chunk_bytes=1, delay=…)`.
    """

    status: int | None = None
    times: int = 1
    retry_after: str | None = None
    body: Any = None
    redirect: str | None = None
    raw: str | bytes | None = None
    content_type: str | None = None
    hang: float | None = None
    ignore_stream: bool = False
    trickle: float | None = None
    drop_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    keepalive_interval: float | None = None
    damage_lines: bool = False  # every third data line gets trailing garbage (recoverable)
    break_lines: bool = False  # every fourth data line is cut in half (unrecoverable)
    error_event: Any = None
    error_event_name: str | None = None
    error_after_chunks: int = 0


async def hang(request: Any, seconds: float) -> bool:
    """Say nothing for `seconds`; True if the client disconnected meanwhile."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(0.05)
    return False



def fault_answer(fault: Fault | None, dialect: EmulatedDialect) -> Any:
    """The answer of a fault that replaces the whole answer, if it is one."""
    from starlette.responses import JSONResponse, Response

    if fault is None:
        return None
    if fault.status is not None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        err = fault.body or dialect.error_body(fault.status, "emulated_fault", f"emulated failure {fault.status}")
        return JSONResponse(err, status_code=fault.status, headers=headers)
    if fault.redirect is not None:
        return Response(status_code=307, headers={"Location": fault.redirect})
    if fault.raw is not None:
        return Response(fault.raw, media_type=fault.content_type or "text/plain")
    return None


async def trickle(data: bytes, interval: float, pieces: int = 8) -> AsyncIterator[bytes]:
    size = -(-len(data) // pieces)
    for i in range(0, len(data), size):
        if i:
            await asyncio.sleep(interval)
        yield data[i : i + size]


async def send_events(events: list[str], fault: Fault | None, chunk_bytes: int | None, delay: float) -> AsyncIterator[bytes]:
    """Write the stream's events, honouring chunking, delay and stream faults."""
    for n, event in enumerate(events):
        if fault is not None:
            if fault.error_event is not None and n == fault.error_after_chunks:
                yield error_event(fault).encode("utf-8") + events[-1].encode("utf-8")
                return
            if fault.drop_after_chunks is not None and n >= fault.drop_after_chunks:
                raise DroppedConnection()
            if fault.stall_after_chunks is not None and n >= fault.stall_after_chunks:
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    if fault.keepalive_interval:
                        yield b": keep-alive\n\n"
                        await asyncio.sleep(fault.keepalive_interval)
                    else:
                        await asyncio.sleep(0.5)
                return
            data_line = event.startswith("data:") and "[DONE]" not in event
            if fault.damage_lines and n % 3 == 1 and data_line:
                event = event.rstrip("\n") + "]} 乱码\n\n"
            if fault.break_lines and n % 4 == 2 and data_line:
                event = event[: len(event) // 2] + "\n\n"
        data = event.encode("utf-8")
        if chunk_bytes:
            for i in range(0, len(data), chunk_bytes):
                yield data[i : i + chunk_bytes]
                if delay:
                    await asyncio.sleep(delay)
        else:
            yield data
            if delay:
                await asyncio.sleep(delay)


def error_event(fault: Fault) -> str:
    data = fault.error_event if isinstance(fault.error_event, str) else json.dumps(fault.error_event, ensure_ascii=False)
    name = f"event: {fault.error_event_name}\n" if fault.error_event_name else ""
    return f"{name}data: {data}\n\n"
