"""httpx transport: one pooled sync client and one async client per model instance.

Both are created lazily on first use and reused across calls. An `AsyncClient`'s
connections belong to the event loop that opened them, so each loop gets its own
async client (a second `asyncio.run`, a fresh pytest loop, loops in several
threads). None is left to the garbage collector: each is closed by `aclose()`, or
else inside its own loop when that loop shuts down (`asyncio.run` and
`asyncio.Runner` finalise async generators before closing the loop, and a guard
generator, kept alive until then even if its model is dropped, does the closing).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from .config import DEFAULTS
from .errors import APIConnectionError, APITimeoutError, redact_url
from .types import HttpRequest

if TYPE_CHECKING:
    from typing_extensions import Self


@contextmanager
def map_transport_errors(url: str) -> Iterator[None]:
    """httpx's timeouts and connection failures as this package's errors (sync and async alike)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"timed out talking to {redact_url(url)}: {type(exc).__name__}", url=url) from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(f"cannot reach {redact_url(url)}: {exc or type(exc).__name__}", url=url) from exc


#: every guard still to run, by loop: kept alive here (not only by its Transport) so that a model
#: dropped without aclose() still has its pool closed inside its loop, when that loop shuts down
_GUARDS: dict[int, tuple[asyncio.AbstractEventLoop, set[Any]]] = {}
_GUARDS_LOCK = threading.Lock()


def _keep_guard(loop: asyncio.AbstractEventLoop, guard: Any) -> None:
    with _GUARDS_LOCK:
        for key in [k for k, (old, _) in _GUARDS.items() if old.is_closed()]:
            del _GUARDS[key]  # their guards ran when those loops shut down
        _GUARDS.setdefault(id(loop), (loop, set()))[1].add(guard)


def _drop_guard(loop: asyncio.AbstractEventLoop, guard: Any) -> None:
    with _GUARDS_LOCK:
        entry = _GUARDS.get(id(loop))
        if entry is not None and entry[0] is loop:
            entry[1].discard(guard)


async def _closed_with_its_loop(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """Started once and kept alive; the loop's async-generator shutdown runs the `finally`."""
    try:
        yield
    finally:
        await client.aclose()
        await asyncio.sleep(0)  # let the transports' close callbacks run before the loop closes


class Closeable:
    """`with` / `async with` for anything with `close()` and `aclose()` (the client, both adapters)."""

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def aclose(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


class Transport:
    """Owns the HTTP clients of one model instance. Thread-safe for the sync client."""

    def __init__(
        self,
        *,
        timeout: float | None = DEFAULTS.timeout,
        connect_timeout: float | None = DEFAULTS.connect_timeout,
        verify: bool | str = True,
        headers: dict[str, str] | None = None,
        proxy: str | None = None,
        max_connections: int = DEFAULTS.max_connections,
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
        self._client_finalizer: weakref.finalize | None = None
        # per event loop: its client and the guard that closes it when the loop shuts down
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, Any]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles carry the configuration, never live connections: they pool lazily
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_aclients")}
        state.update(_client=None, _client_finalizer=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._aclients = weakref.WeakKeyDictionary()

    def _kwargs(self) -> dict[str, Any]:
        # trust_env=True: HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE from the environment apply;
        # redirects are never followed: a POST must not silently become a GET elsewhere
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
                    client = httpx.Client(**self._kwargs())
                    # a model dropped without close() still releases its sockets
                    self._client_finalizer = weakref.finalize(self, client.close)
                    self._client = client
        return self._client

    async def aclient(self) -> httpx.AsyncClient:
        """The async client of the running loop (created on the loop's first call)."""
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(loop)
        if entry is None:
            for old in [old for old in self._aclients if old.is_closed()]:
                del self._aclients[old]  # its guard closed its client when it shut down
            client = httpx.AsyncClient(**self._kwargs())
            guard = _closed_with_its_loop(client)
            await guard.__anext__()  # registers it with this loop's async-generator shutdown
            _keep_guard(loop, guard)
            entry = self._aclients[loop] = (client, guard)
        return entry[0]

    def send(self, req: HttpRequest, *, timeout: httpx.Timeout | None = None) -> httpx.Response:
        """Send; the body is left unread (the caller reads it and must close the response)."""
        client = self.client
        with map_transport_errors(req.url):
            return client.send(self._build(client, req, timeout), stream=True)

    async def asend(self, req: HttpRequest, *, timeout: httpx.Timeout | None = None) -> httpx.Response:
        client = await self.aclient()
        with map_transport_errors(req.url):
            return await client.send(self._build(client, req, timeout), stream=True)

    @staticmethod
    def _build(client: httpx.Client | httpx.AsyncClient, req: HttpRequest, timeout: httpx.Timeout | None) -> httpx.Request:
        return client.build_request(req.method, req.url, headers=req.headers, json=req.json,
                                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)

    def close(self) -> None:
        """Close the sync pool (an async pool is closed by `aclose()` or with its loop)."""
        if self._client_finalizer is not None:
            self._client_finalizer()  # closes the client, once
        self._client = self._client_finalizer = None

    async def aclose(self) -> None:
        """Close the sync pool and the running loop's async pool (others close with their loops)."""
        loop = asyncio.get_running_loop()
        entry = self._aclients.pop(loop, None)
        if entry is not None:
            _drop_guard(loop, entry[1])
            await entry[1].aclose()  # runs the guard's finally: the client's aclose()
        self.close()
