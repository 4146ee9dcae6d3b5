"""`ChatClient`: the plain Python API, and the engine both framework adapters wrap.

It takes its configuration from `config` (arguments, then `DOMESTIC_LLM_*`
environment variables), lets the dialect shape each request, sends it through the
transport, and feeds the answer back through the dialect. Retries live here and
only here (`retry`): connection errors, timeouts and retryable statuses are tried
again with exponential backoff and jitter, honouring `Retry-After`, but never once
the first chunk of a stream has reached the caller.

Timeouts (`timeout`, `connect_timeout`, `stall_timeout`, `total_timeout`) run on one clock per
call; what each bounds is documented in `retry`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import Any

import httpx

from .answers import header_request_id, read_body_async, read_body_sync, read_result, redirect_error, status_error
from . import budget as _budget
from .assembler import StreamAssembler
from .callplan import FamilyOptions, plan_request
from .config import DEFAULTS, as_messages, check_options, env, require_tools, resolve_target, templated
from .credentials import lift_credentials, redact_httpx_log, secret_value, warn_plain_http, with_query_credential
from .dialects.base import Dialect, ParseOptions
from .fixups import fix_result
from .discovery import (alist_models, aserved_models_hint, list_models, model_missing, served_models_hint,
                        with_served_models)
from .errors import (APIStatusError, AuthenticationError, BadRequestError, ConfigurationError, ContextOverflowError,
                     DomesticLLMError, redact_url)
from .retry import CallState, RetryPolicy
from .structured import json_object_request, retry_as_json_object
from .thinking import ThinkMode
from .transport import Closeable, Transport
from .types import AuthScheme, ChatChunk, ChatRequest, ChatResult, HttpRequest, Message

log = logging.getLogger("domestic_llm")

TokenProvider = Callable[[], Any]
"""A callable returning the token (or an awaitable of it); asked before each request and again after a 401."""

Messages = ChatRequest | Sequence[Message | dict[str, Any]] | str


class ChatClient(Closeable):
    """A configured connection to one chat endpoint.

    ```python
    with ChatClient(model="qwen-72b", base_url="http://127.0.0.1:1025/v1") as client:
        print(client.invoke([{"role": "user", "content": "你好"}]).text)
        for chunk in client.stream("讲个笑话"):
            print(chunk.text, end="")
    ```
    """

    #: learned from the server (see structured.retry_as_json_object): send json_object instead of json_schema
    json_schema_refused: bool = False
    _warned_not_streaming: bool = False  # the once-per-client "does not stream" warning was given

    def __init__(
        self,
        *,
        model: str | None = None,
        endpoint: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | Dialect | None = None,
        auth_scheme: AuthScheme | None = None,
        token_provider: TokenProvider | None = None,
        timeout: float | None = DEFAULTS.timeout,
        connect_timeout: float | None = DEFAULTS.connect_timeout,
        stall_timeout: float | None = None,
        total_timeout: float | None = None,
        max_retries: int = DEFAULTS.max_retries,
        default_headers: dict[str, str] | None = None,
        verify: bool | str = True,
        proxy: str | None = None,
        max_connections: int = DEFAULTS.max_connections,
        think_tags: ThinkMode | None = None,
        think_starts_open: bool | None = None,
        stream_usage: bool = True,
        strict: bool = False,
        chat_template: Any = None,
        trim_role_leaks: bool = True,
        params: dict[str, Any] | None = None,
        model_kwargs: dict[str, Any] | None = None,
        model_family: str | None = None,
        thinking_style: str | None = None,
        reasoning_field: str | None = None,
        text_tool_calls: bool = True,
    ) -> None:
        self.model = model or env("MODEL") or ""
        self.params = dict(params or {})  # default sampling params, overridden per call
        self.model_kwargs = dict(model_kwargs or {})  # extra body fields sent with every request
        self.dialect, url = resolve_target(endpoint, base_url, dialect)
        self.dialect = templated(self.dialect, chat_template, self.model)
        # a key in the URL's query or in a header becomes api_key + auth_scheme (see credentials)
        lifted = lift_credentials(url, default_headers, secret_value(api_key) if api_key is not None else env("API_KEY"),
                                  auth_scheme, has_token_provider=token_provider is not None)
        self.url, self._api_key, self.auth_scheme = lifted.url or url, lifted.api_key, lifted.auth_scheme
        default_headers = {k: secret_value(v) for k, v in (lifted.headers or {}).items()}
        self.token_provider = token_provider
        check_options(timeout=timeout, connect_timeout=connect_timeout, stall_timeout=stall_timeout,
                      total_timeout=total_timeout, max_retries=max_retries, max_connections=max_connections,
                      verify=verify, proxy=proxy, auth_scheme=auth_scheme, think_tags=think_tags)
        self.retry = RetryPolicy(max_retries=max_retries)
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.stall_timeout, self.total_timeout = stall_timeout, total_timeout
        self.family_options = FamilyOptions(model_family, thinking_style, think_starts_open, think_tags,  # families.py
                                            reasoning_field, text_tool_calls)
        self.family_options.check()
        self.options = ParseOptions(think_tags=think_tags or self.dialect.think_tags,
                                    think_starts_open=bool(think_starts_open), include_usage=stream_usage,
                                    strict=strict, trim_role_leaks=trim_role_leaks)
        warn_plain_http(self.url, "api_key" if self._api_key else "token_provider" if token_provider is not None
                        else "header " + lifted.secret_headers[0] if lifted.secret_headers else None)
        redact_httpx_log()
        self.transport = Transport(timeout=timeout, connect_timeout=connect_timeout, verify=verify,
                                   headers=default_headers, proxy=proxy, max_connections=max_connections)

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, dialect={self.dialect.name!r}, url={redact_url(self.url)!r})"

    @property
    def max_retries(self) -> int:
        return self.retry.max_retries

    @classmethod
    def from_curl(cls, text: str, **overrides: Any) -> ChatClient:
        """A client configured from a curl command as printed in a vendor document."""
        from .curl import client_kwargs_from_curl

        return cls(**{**client_kwargs_from_curl(text), **overrides})

    # ---- requests ------------------------------------------------------------------

    def build_request(self, messages: Sequence[Message | dict[str, Any]] | str, **params: Any) -> ChatRequest:
        """A `ChatRequest` for this client's model; keyword arguments become sampling params."""
        return ChatRequest(model=self.model, messages=as_messages(messages), params=params)

    def _complete_request(self, messages: Messages, params: dict[str, Any]) -> ChatRequest:
        """The request as sent: the caller's (never modified) with this client's defaults filled in."""
        request = messages if isinstance(messages, ChatRequest) else self.build_request(messages, **params)
        request = replace(request, model=request.model or self.model, params={**self.params, **request.params},
                          extra_body={**self.model_kwargs, **request.extra_body})
        if not request.model:
            raise ConfigurationError("model is not set: pass model='...' or set DOMESTIC_LLM_MODEL")
        if not request.messages:
            raise ConfigurationError("messages is empty: at least one message is required")
        if request.tools:
            require_tools(self.dialect)
        self.dialect.validate(request)
        return request

    def _http(self, request: ChatRequest, stream: bool, token: str | None, call: CallState) -> HttpRequest:
        """The HTTP request of one attempt (without stream_options once a strict server refused them)."""
        options = replace(self.options, include_usage=False) if call.no_stream_options else self.options
        url = with_query_credential(self.dialect.call_url(self.url, request, stream), self.auth_scheme, token)
        if call.json_object or self.json_schema_refused:
            request = json_object_request(request)
        http = self.dialect.build_request(request, url=url, stream=stream, headers=self._headers(stream, token),
                                          options=options)
        call.sent_stream_options = http.json is not None and "stream_options" in http.json
        call.token = token
        call.sent_body = http.json
        return http

    def _headers(self, stream: bool, token: str | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        headers.update(self.dialect.auth_headers(token, self.auth_scheme))
        return headers

    def _token_sync(self, refresh: bool) -> str | None:
        if self.token_provider is None:
            return self._api_key
        if refresh and hasattr(self.token_provider, "invalidate"):
            self.token_provider.invalidate()
        token = self.token_provider()
        if inspect.isawaitable(token):
            if hasattr(token, "close"):
                token.close()
            raise ConfigurationError("token_provider is async; use the async methods (ainvoke/astream)")
        return token

    async def _token_async(self, refresh: bool) -> str | None:
        if self.token_provider is None:
            return self._api_key
        if refresh and hasattr(self.token_provider, "invalidate"):
            self.token_provider.invalidate()
        token = self.token_provider()
        if inspect.isawaitable(token):
            token = await token
        return token

    # ---- attempts --------------------------------------------------------------------

    def _recover(self, call: CallState) -> bool:
        """Errors fixed by changing the request rather than waiting: True means try again now."""
        exc = call.error
        if isinstance(exc, AuthenticationError) and self.token_provider is not None and not call.refreshed_token:
            call.refreshed_token = True
            return True
        if retry_as_json_object(call, self.url):
            return True
        if isinstance(exc, BadRequestError) and not isinstance(exc, ContextOverflowError) \
                and call.sent_stream_options and not call.no_stream_options:
            # some strict servers reject stream_options: ask once more without it; remembered
            # for this client only if that works (see _learn), so an unrelated 400 changes nothing
            log.warning("domestic_llm: %s rejected the request; retrying once without stream_options",
                        redact_url(self.url))
            call.no_stream_options = True
            return True
        return False

    def _learn(self, call: CallState) -> None:
        """An attempt succeeded: keep what recovery learned about this server (no stream_options)."""
        if call.no_stream_options and self.options.include_usage:
            log.warning("domestic_llm: %s does not accept stream_options; not sending it again (no stream usage)",
                        redact_url(self.url))
            self.options = replace(self.options, include_usage=False)
        if call.json_object:  # the retry with json_object worked (its warning said why)
            self.json_schema_refused = True

    def _timeouts(self, call: CallState, stream: bool) -> httpx.Timeout:
        return call.timeouts(self.timeout, self.connect_timeout, self.stall_timeout if stream else None)

    def _send_sync(self, request: ChatRequest, stream: bool, call: CallState) -> tuple[httpx.Response, Any]:
        """The attempts of one call: a stream's open response, or a closed one and its parsed answer."""
        for delay in call.attempts(self._recover):
            if delay:
                time.sleep(delay)
            token = self._token_sync(call.refreshed_token)
            http = self._http(request, stream, token, call)
            read_by = call.read_deadline(self.timeout)
            try:
                resp = self.transport.send(http, timeout=self._timeouts(call, stream))
                opened = stream and resp.status_code < 300
                answer = None if opened else self._finish_sync(resp, token, read_by, call.options)
                self._learn(call)
                return resp, answer
            except DomesticLLMError as exc:
                call.error = exc
        raise AssertionError("unreachable: attempts() raises the last error")  # pragma: no cover

    async def _send_async(self, request: ChatRequest, stream: bool, call: CallState) -> tuple[httpx.Response, Any]:
        for delay in call.attempts(self._recover):
            if delay:
                await asyncio.sleep(delay)
            token = await self._token_async(call.refreshed_token)
            http = self._http(request, stream, token, call)
            read_by = call.read_deadline(self.timeout)
            try:
                resp = await self.transport.asend(http, timeout=self._timeouts(call, stream))
                opened = stream and resp.status_code < 300
                answer = None if opened else await self._finish_async(resp, token, read_by, call.options)
                self._learn(call)
                return resp, answer
            except DomesticLLMError as exc:
                call.error = exc
        raise AssertionError("unreachable: attempts() raises the last error")  # pragma: no cover

    def _finish_sync(self, resp: httpx.Response, token: str | None, read_by: float | None,
                     options: ParseOptions) -> ChatResult:
        """Read a whole answer (an error's or a non-streamed one) by `read_by`; raise or parse it."""
        with closing(resp):
            body = read_body_sync(resp, read_by, self.url)
        try:
            return self._answer(resp, body, token, options)
        except APIStatusError as exc:
            if not model_missing(exc):
                raise
            raise with_served_models(exc, served_models_hint(self)) from None

    async def _finish_async(self, resp: httpx.Response, token: str | None, read_by: float | None,
                            options: ParseOptions) -> ChatResult:
        try:
            body = await read_body_async(resp, read_by, self.url)
        finally:
            await resp.aclose()
        try:
            return self._answer(resp, body, token, options)
        except APIStatusError as exc:
            if not model_missing(exc):
                raise
            raise with_served_models(exc, await aserved_models_hint(self)) from None

    def _status_error(self, resp: httpx.Response, body: bytes, token: str | None) -> DomesticLLMError:
        return status_error(self.dialect, resp, body, token, self.url)

    def _answer(self, resp: httpx.Response, body: bytes, token: str | None, options: ParseOptions) -> Any:
        """A whole answer's body as the result (a subclass may read other routes' answers); errors raise."""
        if 300 <= resp.status_code < 400:
            raise redirect_error(self.dialect.name, resp, self.url)
        if resp.status_code >= 400:
            raise self._status_error(resp, body, token)
        return read_result(self.dialect, options, resp, body, self.url, token)

    # ---- the public calls ---------------------------------------------------------------

    def _start(self, messages: Messages, params: dict[str, Any]) -> tuple[ChatRequest, CallState, int | None]:
        """The request as sent, the call's state (clock, parse options, answer fix-ups) and the thinking budget
        the client must enforce itself, if any: the model-family table decides (see `callplan`)."""
        request = self._complete_request(messages, params)
        plan = plan_request(request, self.dialect, self.family_options, self.options)
        options = self.dialect.call_options(request, plan.parse)
        return request, CallState.start(self.retry, self.total_timeout, options, plan.fixes), plan.budget

    def invoke(self, messages: Messages, **params: Any) -> ChatResult:
        """One complete answer."""
        request, call, budget = self._start(messages, params)
        if budget is not None:
            return _budget.invoke(self, request, budget)
        _, result = self._send_sync(request, False, call)
        return fix_result(result, call.fixes) if call.fixes else result

    async def ainvoke(self, messages: Messages, **params: Any) -> ChatResult:
        """One complete answer, natively async."""
        request, call, budget = self._start(messages, params)
        if budget is not None:
            return await _budget.ainvoke(self, request, budget)
        _, result = await self._send_async(request, False, call)
        return fix_result(result, call.fixes) if call.fixes else result

    def list_models(self) -> list[str]:
        """Ids of the models the server serves (`/v1/models`; TGI `/info`; Triton's repository index)."""
        return list_models(self)

    async def alist_models(self) -> list[str]:
        """`list_models`, natively async."""
        return await alist_models(self)

    def stream(self, messages: Messages, **params: Any) -> Iterator[ChatChunk]:
        """Chunks as the bytes arrive; the last chunk has `final=True` with usage and metadata."""
        request, call, budget = self._start(messages, params)
        if budget is not None:
            yield from _budget.stream(self, request, budget)
            return
        resp, _ = self._send_sync(request, True, call)
        assembler = self._assembler(resp, call)
        with closing(resp):
            try:
                for raw in resp.iter_bytes():
                    yield from assembler.feed(raw)
            except httpx.TransportError as exc:
                raise assembler.interrupted(exc) from exc
        yield from self._ended(assembler)

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[ChatChunk]:
        """Chunks as the bytes arrive, natively async."""
        request, call, budget = self._start(messages, params)
        if budget is not None:
            async for chunk in _budget.astream(self, request, budget):
                yield chunk
            return
        resp, _ = await self._send_async(request, True, call)
        assembler = self._assembler(resp, call)
        try:
            async for raw in resp.aiter_bytes():
                for chunk in assembler.feed(raw):
                    yield chunk
        except httpx.TransportError as exc:
            raise assembler.interrupted(exc) from exc
        finally:
            await resp.aclose()
        for chunk in self._ended(assembler):
            yield chunk

    def _assembler(self, resp: httpx.Response, call: CallState) -> StreamAssembler:
        return StreamAssembler(self.dialect, call.options or self.options, url=self.url,
                               content_type=resp.headers.get("content-type", ""),
                               request_id=header_request_id(resp.headers),
                               stall_timeout=self.stall_timeout, deadline=call.deadline, fixes=call.fixes,
                               token=call.token)

    def _ended(self, assembler: StreamAssembler) -> list[ChatChunk]:
        chunks = assembler.end()
        if assembler.not_streaming and not self._warned_not_streaming:
            self._warned_not_streaming = True
            log.warning("domestic_llm: %s answered a stream request with one JSON body (it does not stream); "
                        "delivering it as chunks", redact_url(self.url))
        return chunks

    # ---- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close pooled connections (the client opens new ones if used again)."""
        self.transport.close()

    async def aclose(self) -> None:
        """Close pooled connections, the async pool included."""
        await self.transport.aclose()
