"""ASGI-level pieces of the emulator: where a key is looked for, and connection drops without tracebacks."""

from __future__ import annotations

import base64
import logging
from typing import Any

log = logging.getLogger("domestic_llm.emulator")


def credential_at(request: Any, location: str) -> str | None:
    """The key a request carries at `location`: `header:<Name>`, `query:<name>` or `basic` (`user:password`)."""
    kind, _, name = location.partition(":")
    if kind == "header":
        return request.headers.get(name)
    if kind == "query":
        return request.query_params.get(name)
    auth = request.headers.get("authorization") or ""
    if kind == "basic" and auth.startswith("Basic "):
        return base64.b64decode(auth[6:]).decode("utf-8", "replace")
    return None


class DroppedConnection(Exception):
    """Raised inside a stream to cut the connection (`Fault.drop_after_chunks`)."""


class DropsQuietly:
    """ASGI wrapper: an emulated drop closes the connection with one INFO line instead of a traceback.

    Returning without finishing the response makes uvicorn close the socket (what a
    real dropped connection looks like to the client); uvicorn's own one-line
    complaint about that is filtered out (`quiet_drops`).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:  # starlette may wrap it in an exception group
            if not _is_drop(exc):
                raise
            log.info("emulated connection drop on %s", scope.get("path"))


def _is_drop(exc: BaseException) -> bool:
    if isinstance(exc, DroppedConnection):
        return True
    inner = getattr(exc, "exceptions", None) or ()
    return bool(inner) and all(_is_drop(e) for e in inner)


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def quiet_drops() -> None:
    """Silence uvicorn's complaint about a response cut short on purpose (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def as_llamacpp_reads(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The request as llama.cpp's server acts on it (when the emulator's state asks to imitate that):
    tools only under a named tool_choice, stream_options ignored."""
    if state.named_tool_choice_only and not isinstance(body.get("tool_choice"), dict):
        body = {k: v for k, v in body.items() if k not in ("tools", "tool_choice")}
    if state.ignore_stream_options:
        body = {k: v for k, v in body.items() if k != "stream_options"}
    return body
