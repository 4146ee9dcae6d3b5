"""What the embedding and rerank clients share: one engine for sending, and batching.

`ServiceEngine` is the chat client's own sending machinery — transport and
connection pool, auth headers per dialect, `token_provider` refresh after a
401, retries with backoff and `Retry-After`, `total_timeout`, error mapping
with status / server code / request id and secret scrubbing — reused by
subclassing `ChatClient` and replacing its hooks (`_complete_request`, `_http`,
`_answer`): a "request" here is a ready-made function of the auth headers, an
answer the decoded JSON body. It is
an implementation detail; the public clients (`EmbeddingClient`,
`RerankClient`) hold one and expose nothing of the chat API.

Batching (`BatchingClient`, the base of both clients): inputs are cut into
batches of `batch_size`, sent concurrently under `max_concurrency`, and put back
in input order. When a server refuses a batch
because one input is too long or the batch is too big, the batch is split in
halves until the culprit is alone, so the error names the input's index (or,
with `truncate=True`, the input is shortened and sent again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar, TypeVar, cast

import httpx

from .answers import header_request_id as _header_request_id
from .client import ChatClient
from .config import env
from .credentials import with_query_credential
from .dialects.base import Dialect, HttpRequest
from .retry import CallState
from .errors import (
    APIStatusError,
    ConfigurationError,
    DomesticLLMError,
    InputTooLongError,
    MalformedResponseError,
    error_class_for,
    redact_url,
)

log = logging.getLogger("domestic_llm")

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_CONCURRENCY = 4

#: ChatClient keyword arguments about the connection, shared by every kind of route
CONNECTION_OPTIONS = (
    "auth_scheme", "token_provider", "timeout", "connect_timeout", "total_timeout", "max_retries",
    "default_headers", "verify", "proxy", "max_connections",
)

# What servers say when one input is over the model's length (vLLM 400, TEI 413, llama.cpp 500 or 400)
_TOO_LONG = re.compile(
    r"too long|too large to process|maximum context length|context length|max_model_len|"
    r"must have less than \d+ tokens|exceeds? the available context|exceed_context_size|input_too_long|上下文",
    re.IGNORECASE,
)
# ... and when a request carries more inputs than it accepts (TEI 413, others)
_BATCH_LIMIT = re.compile(
    r"batch size \d+ > maximum|maximum allowed batch|max_client_batch_size|too many (inputs|texts|documents)",
    re.IGNORECASE,
)
_LIMIT = re.compile(r"(?:maximum context length is|less than|n_ctx\D{0,4})\s*(\d+)", re.IGNORECASE)
_GIVEN = re.compile(r"(?:you requested|given:?|n_prompt_tokens\D{0,4})\s*(\d+)", re.IGNORECASE)
_MAX_SHORTENINGS = 6


def overload_kind(exc: BaseException) -> str | None:
    """`"too_long"`, `"batch_limit"` or `None`: whether splitting or shortening the request can help."""
    if not isinstance(exc, DomesticLLMError) or exc.status is None or exc.status < 400:
        return None
    text = f"{exc.server_message or ''} {exc.code or ''}"
    if _BATCH_LIMIT.search(text):
        return "batch_limit"
    if isinstance(exc, InputTooLongError) or _TOO_LONG.search(text):
        return "too_long"
    return None


def shortened(text: str, exc: DomesticLLMError) -> str:
    """`text` cut to what the server's message says fits (with a margin), else to three quarters."""
    message = exc.server_message or ""
    limit, given = _LIMIT.search(message), _GIVEN.search(message)
    if limit and given and int(given.group(1)) > int(limit.group(1)) > 0:
        keep = int(len(text) * int(limit.group(1)) / int(given.group(1)) * 0.9)
    else:
        keep = len(text) * 3 // 4
    return text[: max(1, min(keep, len(text) - 1))]


def check_texts(texts: Any, name: str) -> list[str]:
    """`texts` as a list of non-empty strings, or a clear error naming the bad item."""
    if isinstance(texts, str):
        raise ConfigurationError(f"{name} must be a list of strings, got one string; wrap it in a list")
    try:
        items = list(texts)
    except TypeError:
        raise ConfigurationError(f"{name} must be a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise ConfigurationError(
                f"{name}[{i}] is a {type(text).__name__}, not text: only strings are sent (token-id arrays get "
                "HTTP 200 with an empty answer from vLLM and others)"
            )
        if not text.strip():
            raise ConfigurationError(
                f"{name}[{i}] is empty or blank: embedding and rerank servers refuse empty input (TEI) or "
                "return a meaningless vector; drop it before the call"
            )
    return items


def check_positive(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"{name}={value!r} must be a positive integer")


class ServiceEngine(ChatClient):
    """`ChatClient`'s transport, auth, retries and error mapping for a non-chat JSON route."""

    def __init__(
        self,
        dialect: Dialect,
        *,
        kind: str,
        model: str | None,
        endpoint: str | None,
        base_url: str | None,
        api_key: str | None,
        **connection: Any,
    ) -> None:
        if not endpoint and not base_url:
            env_name = kind.upper()
            raise ConfigurationError(
                f"no {kind} endpoint configured: pass endpoint='http://host:port/full/path' or "
                f"base_url='http://host:port/v1', or set DOMESTIC_LLM_{env_name}_ENDPOINT / "
                f"DOMESTIC_LLM_{env_name}_BASE_URL"
            )
        # model= is passed (non-empty) so ChatClient does not fall back to the chat model's DOMESTIC_LLM_MODEL
        super().__init__(model=model or "-", endpoint=endpoint, base_url=base_url, dialect=dialect,
                         api_key=api_key, **connection)
        self.model = model or ""
        self.kind = kind

    def __repr__(self) -> str:
        return f"ServiceEngine(kind={self.kind!r}, dialect={self.dialect.name!r}, url={redact_url(self.url)!r})"

    # The ChatClient hooks: a request is a function of the auth headers, already validated;
    # an answer is the decoded JSON body.
    def _complete_request(self, messages: Any, params: dict[str, Any]) -> Any:
        return messages

    def _http(self, request: Any, stream: bool, token: str | None, call: CallState) -> HttpRequest:
        http: HttpRequest = request(self._headers(False, token))
        # a key configured as a URL query parameter (auth_scheme="query:<name>") rides on every route
        http.url = with_query_credential(http.url, self.auth_scheme, token)
        return http

    def _answer(self, resp: httpx.Response, body: bytes, token: str | None, options: Any) -> Any:
        if resp.status_code >= 300:
            return super()._answer(resp, body, token, options)  # raises the status's error
        decoded = self._decode(resp, body)
        exc = self._error_in_body(resp, decoded)
        if exc is not None:
            raise exc
        return decoded

    def _status_error(self, resp: httpx.Response, body_bytes: bytes, token: str | None) -> DomesticLLMError:
        exc = super()._status_error(resp, body_bytes, token)
        if overload_kind(exc) == "too_long" and not isinstance(exc, InputTooLongError):
            # llama.cpp says it with a 500: retrying the same input cannot help, so no retry
            exc = InputTooLongError(exc.args[0], status=exc.status, code=exc.code, server_message=exc.server_message,
                                    request_id=exc.request_id, url=self.url, body=exc.body,
                                    retry_after=getattr(exc, "retry_after", None))
        return exc

    def _decode(self, resp: httpx.Response, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise MalformedResponseError(
                f"{self.kind} endpoint answered HTTP {resp.status_code} with a body that is not JSON: "
                f"{body[:200].decode('utf-8', 'replace')!r}",
                status=resp.status_code, url=self.url, request_id=_header_request_id(resp.headers),
            ) from None

    def _error_in_body(self, resp: httpx.Response, body: Any) -> DomesticLLMError | None:
        """An error some gateways send with HTTP 200 (`{"object": "error", ...}` or a lone `error`)."""
        if not isinstance(body, dict):
            return None
        if body.get("object") != "error" and not (body.get("error") and not ({"data", "results"} & body.keys())):
            return None
        info = self.dialect.parse_error(resp.status_code, body)
        code = info.code or ""
        status = int(code) if code.isdigit() and 400 <= int(code) < 600 else None  # the status it means
        cls = error_class_for(status, info.message) if status else APIStatusError
        exc = cls(f"{self.dialect.name} {self.kind} endpoint answered HTTP {resp.status_code} with an error: "
                  f"{info.message or str(body)[:200]}", status=status, code=info.code, server_message=info.message,
                  request_id=info.request_id or _header_request_id(resp.headers), url=self.url)
        if overload_kind(exc) == "too_long":
            exc = InputTooLongError(exc.args[0], status=status, code=info.code, server_message=info.message,
                                    request_id=exc.request_id, url=self.url)
        return exc

    def post(self, build: Callable[[dict[str, str]], HttpRequest]) -> Any:
        """Send one JSON request (with ChatClient's retries and clock) and return the decoded JSON answer."""
        return self._send_sync(cast(Any, build), False, CallState.start(self.retry, self.total_timeout))[1]

    async def apost(self, build: Callable[[dict[str, str]], HttpRequest]) -> Any:
        return (await self._send_async(cast(Any, build), False, CallState.start(self.retry, self.total_timeout)))[1]

    def malformed(self, message: str) -> MalformedResponseError:
        return MalformedResponseError(f"{self.dialect.name} {self.kind} endpoint: {message}", url=self.url)


def settings_env(kind: str, name: str) -> str | None:
    """`DOMESTIC_LLM_<KIND>_<NAME>` (e.g. `DOMESTIC_LLM_EMBEDDING_MODEL`), `None` when unset."""
    return env(f"{kind.upper()}_{name}")


def batches(items: Sequence[T], size: int) -> list[tuple[int, list[T]]]:
    """`(offset, batch)` pairs covering `items` in order."""
    return [(i, list(items[i : i + size])) for i in range(0, len(items), size)]


def run_batches(work: Callable[[int, list[T]], list[Any]], parts: list[tuple[int, list[T]]], limit: int) -> list[Any]:
    """`work(offset, batch)` for every part, at most `limit` at a time; results concatenated in input order."""
    if len(parts) <= 1 or limit <= 1:
        return [r for offset, part in parts for r in work(offset, part)]
    pool = ThreadPoolExecutor(max_workers=min(limit, len(parts)), thread_name_prefix="domestic-llm-batch")
    try:
        futures = [pool.submit(work, offset, part) for offset, part in parts]
        return [r for f in futures for r in f.result()]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


async def arun_batches(
    work: Callable[[int, list[T]], Awaitable[list[Any]]], parts: list[tuple[int, list[T]]], limit: int
) -> list[Any]:
    """The async form of `run_batches`: an `asyncio.Semaphore` bounds the requests in flight."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def one(offset: int, part: list[T]) -> list[Any]:
        async with semaphore:
            return await work(offset, part)

    tasks = [asyncio.ensure_future(one(offset, part)) for offset, part in parts]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [r for chunk in results for r in chunk]


class BatchingClient:
    """What `EmbeddingClient` and `RerankClient` share around their `ServiceEngine`.

    A call's inputs are sent in batches of `batch_size`, at most `max_concurrency` at once
    (`_run` / `_arun`, given the client's `send(offset, batch)` that posts one batch and
    checks its answer). A batch the server refuses as too big or too long is split in
    halves, sync and async alike, until the culprit is alone; then it is shortened
    (`truncate=True`) or named in an `InputTooLongError`. A subclass sets the attributes
    below and how its messages name the inputs.
    """

    engine: ServiceEngine
    dialect: Dialect
    batch_size: int
    max_concurrency: int
    truncate: bool
    #: the inputs' name in messages (`texts[3]`), what a batch holds ("refused 40 inputs per request"),
    #: and what a lone over-long input is ("texts[3] (9000 characters) is longer than ...")
    _items_name: ClassVar[str]
    _batch_noun: ClassVar[str]
    _too_long_text: ClassVar[str]

    @property
    def model(self) -> str:
        return self.engine.model

    @property
    def url(self) -> str:
        return self.engine.url

    def close(self) -> None:
        self.engine.close()

    async def aclose(self) -> None:
        await self.engine.aclose()

    def _run(self, send: Callable[[int, list[str]], list[R]], items: list[str]) -> list[R]:
        return run_batches(partial(self._send, send), batches(items, self.batch_size), self.max_concurrency)

    async def _arun(self, send: Callable[[int, list[str]], Awaitable[list[R]]], items: list[str]) -> list[R]:
        return await arun_batches(partial(self._asend, send), batches(items, self.batch_size), self.max_concurrency)

    def _send(self, send: Callable[[int, list[str]], list[R]], offset: int, items: list[str],
              attempt: int = 0) -> list[R]:
        try:
            return send(offset, items)
        except DomesticLLMError as exc:
            action, refusal = self._on_refusal(exc, items, offset, attempt), exc
        if action == "shorten":
            return self._send(send, offset, [self._shorten(items[0], refusal, offset)], attempt + 1)
        mid = len(items) // 2
        return self._send(send, offset, items[:mid]) + self._send(send, offset + mid, items[mid:])

    async def _asend(self, send: Callable[[int, list[str]], Awaitable[list[R]]], offset: int, items: list[str],
                     attempt: int = 0) -> list[R]:
        try:
            return await send(offset, items)
        except DomesticLLMError as exc:
            action, refusal = self._on_refusal(exc, items, offset, attempt), exc
        if action == "shorten":
            return await self._asend(send, offset, [self._shorten(items[0], refusal, offset)], attempt + 1)
        mid = len(items) // 2
        return await self._asend(send, offset, items[:mid]) + await self._asend(send, offset + mid, items[mid:])

    def _on_refusal(self, exc: DomesticLLMError, items: list[str], offset: int, attempt: int) -> str:
        """What to do after the server refused `items`: `"split"`, `"shorten"`, or raise."""
        kind = overload_kind(exc)
        if kind is None:
            raise exc
        if len(items) > 1:
            if kind == "batch_limit" and len(items) <= self.batch_size:
                # remember for this client: the server's limit is below what we sent
                self.batch_size = max(1, len(items) // 2)
                # (the names go into the format, so each client logs the very records it always has)
                log.warning(f"domestic_llm: %s refused %d {self._batch_noun} per request; using batch_size=%d (%s)",
                            self.dialect.name, len(items), self.batch_size, exc.server_message)
            return "split"
        if kind == "too_long" and self.truncate and attempt < _MAX_SHORTENINGS:
            return "shorten"
        if kind == "too_long":
            raise InputTooLongError(
                f"{self._items_name}[{offset}] ({len(items[0])} characters) {self._too_long_text}"
                + (f": {exc.server_message.rstrip('. ')}" if exc.server_message else "")
                + ". Shorten or split it, or pass truncate=True to have it cut.",
                index=offset, status=exc.status, code=exc.code, server_message=exc.server_message,
                request_id=exc.request_id, url=self.url,
            ) from exc
        raise exc

    def _shorten(self, text: str, exc: DomesticLLMError, offset: int) -> str:
        short = shortened(text, exc)
        log.warning(f"domestic_llm: {self._items_name}[%d] is too long for %s; truncated from %d to %d characters",
                    offset, self.dialect.name, len(text), len(short))
        return short
