"""httpx transport: one pooled sync client and one async client per model instance.

Both are created lazily on first use and reused across calls. An `AsyncClient`'s
connections belong to the event loop that opened them, so a call from a
different loop (a second `asyncio.run`, a fresh pytest loop) gets a fresh async
client instead of a pool bound to a dead loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

from .dialects.base import HttpRequest
from .errors import APIConnectionError, APITimeoutError, redact_url

DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class Transport:
    """Owns the HTTP clients of one model instance. Thread-safe for the sync client."""

    def __init__(
        self,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        verify: bool | str = True,
        headers: dict[str, str] | None = None,
        proxy: str | None = None,
        max_connections: int = 100,
        max_keepalive_connections: int | None = None,
    ) -> None:
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.verify = verify
        self.headers = dict(headers or {})
        self.proxy = proxy
        # keep every pooled connection alive by default: reconnecting under load only adds latency
        self.limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections if max_keepalive_connections is None else max_keepalive_connections,
        )
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles carry the configuration, never live connections: they pool lazily
        state = {k: v for k, v in self.__dict__.items() if k != "_lock"}
        state.update(_client=None, _aclient=None, _aclient_loop=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _kwargs(self) -> dict[str, Any]:
        # trust_env=True: HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE from the environment apply
        return {
            "timeout": self.timeout,
            "verify": self.verify,
            "headers": self.headers,
            "proxy": self.proxy,
            "limits": self.limits,
            "trust_env": True,
            "follow_redirects": False,
        }

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(**self._kwargs())
        return self._client

    @property
    def aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop or loop.is_closed():
            self._aclient = httpx.AsyncClient(**self._kwargs())
            self._aclient_loop = loop
        return self._aclient

    def _build(self, client: httpx.Client | httpx.AsyncClient, req: HttpRequest) -> httpx.Request:
        return client.build_request(req.method, req.url, headers=req.headers, json=req.json)

    def send(self, req: HttpRequest, *, stream: bool) -> httpx.Response:
        """Send; with `stream=True` the body is left unread (the caller must close the response)."""
        client = self.client
        try:
            return client.send(self._build(client, req), stream=stream)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"timed out talking to {redact_url(req.url)}: {type(exc).__name__}", url=req.url) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"cannot reach {redact_url(req.url)}: {exc or type(exc).__name__}", url=req.url) from exc

    async def asend(self, req: HttpRequest, *, stream: bool) -> httpx.Response:
        client = self.aclient
        try:
            return await client.send(self._build(client, req), stream=stream)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"timed out talking to {redact_url(req.url)}: {type(exc).__name__}", url=req.url) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"cannot reach {redact_url(req.url)}: {exc or type(exc).__name__}", url=req.url) from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self.close()
