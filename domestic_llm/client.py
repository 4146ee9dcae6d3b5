"""`ChatClient`: the plain Python API, and the engine both framework adapters wrap.

It resolves configuration (arguments, then `DOMESTIC_LLM_*` environment
variables), lets the dialect shape each request, sends it through the transport,
and feeds the answer back through the dialect. Retries live here and only here
(one retry layer): connection errors, timeouts and retryable statuses are tried
again with exponential backoff and jitter, honouring `Retry-After`, but never
once the first chunk of a stream has reached the caller.

Timeouts: `timeout` bounds each network read (and the whole of a non-streamed
read), `connect_timeout` each connection attempt, `stall_timeout` the time a
stream may go without a data event (keep-alive comments do not count). With
retries the worst case is about `(max_retries + 1) * timeout` plus backoff,
unless `total_timeout` caps the whole call.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import random
import time
from dataclasses import replace
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from . import budget as _budget
from .callplan import CallPlan, FamilyOptions, plan_request
from .dialects import get_dialect, infer_dialect, known_dialects
from .dialects.base import AuthScheme, Dialect, HttpRequest, ParseOptions
from .jsonlenient import loads_lenient
from .fixups import AnswerFixer, AnswerFixes, fix_result
from .errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContextOverflowError,
    DomesticLLMError,
    MalformedResponseError,
    StreamInterruptedError,
    StreamTimeoutError,
    error_class_for,
    redact_url,
)
from .credentials import check_auth_scheme, lift_credentials, redact_httpx_log, scrub, secret_value, \
    warn_plain_http, with_query_credential
from .thinking import THINK_MODES, ThinkMode
from .transport import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Transport
from .types import ChatChunk, ChatRequest, ChatResult, Message
from .urls import tidy_url

log = logging.getLogger("domestic_llm")

TokenProvider = Callable[[], Any]
"""A callable returning the token (or an awaitable of it); asked before each request and again after a 401."""

ENV_PREFIX = "DOMESTIC_LLM_"
_REQUEST_ID_HEADERS = ("x-request-id", "x-trace-id", "request-id", "x-b3-traceid", "trace-id", "x-log-id")
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 30.0


def env(name: str) -> str | None:
    """`DOMESTIC_LLM_<name>` from the environment, `None` when unset or empty."""
    value = os.environ.get(ENV_PREFIX + name)
    return value or None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def resolve_target(
    endpoint: str | None, base_url: str | None, dialect: str | Dialect | None
) -> tuple[Dialect, str]:
    """The dialect and full chat URL from `endpoint` / `base_url` / `dialect` (arguments, then env)."""
    endpoint = endpoint or (None if base_url else env("ENDPOINT"))
    base_url = base_url or (None if endpoint else env("BASE_URL"))
    dialect = dialect or env("DIALECT")
    endpoint, base_url = tidy_url("endpoint", endpoint), tidy_url("base_url", base_url)
    if not endpoint and not base_url:
        raise ConfigurationError(
            "no endpoint configured: pass endpoint='http://host:port/full/chat/path' (as your vendor "
            "document prints it) or base_url='http://host:port/v1', or set DOMESTIC_LLM_ENDPOINT / "
            "DOMESTIC_LLM_BASE_URL"
        )
    url = endpoint or base_url
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{'endpoint' if endpoint else 'base_url'}={redact_url(url)!r} must start with http:// or https://"
        )
    inferred = infer_dialect(url)
    if base_url and inferred is None:
        # OpenAI convention: a prefix to which the dialect appends its own path
        chosen = get_dialect(dialect or "openai")
        return chosen, chosen.chat_url(base_url)
    if dialect:
        return get_dialect(dialect), url
    if inferred is None:
        raise ConfigurationError(
            f"cannot tell the dialect of endpoint={redact_url(url)!r} from its path; pass dialect= one of: "
            f"{', '.join(known_dialects())} (or use base_url= for an OpenAI-style prefix)"
        )
    return inferred, url


#: sampling parameters an adapter exposes as fields; anything else in call kwargs goes to the body
SAMPLING_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "n", "seed", "presence_penalty", "frequency_penalty",
                   "logprobs", "top_logprobs", "top_k", "penalty_score")
_REQUEST_FIELDS = {"tools", "tool_choice", "response_format", "thinking", "model", "thinking_budget", "send_reasoning"}


def make_request(
    model: str,
    messages: list[Message],
    params: dict[str, Any],
    extra_body: dict[str, Any],
    call_kwargs: dict[str, Any],
    *,
    thinking: bool | None = None,
    send_reasoning: bool | str | None = None,
    thinking_budget: int | None = None,
) -> ChatRequest:
    """A `ChatRequest` from an adapter's defaults and one call's keyword arguments.

    Call kwargs named like sampling params override them; `tools`, `tool_choice`,
    `response_format`, `thinking` and `model` set those request fields; `extra_body`
    merges into the body; framework-internal names (`ls_*`, `stream`) are dropped;
    anything else becomes an extra body field, as the OpenAI clients do.
    """
    params = {k: v for k, v in params.items() if v is not None}
    extra = dict(extra_body)
    request = ChatRequest(model=model, messages=messages, thinking=thinking, send_reasoning=send_reasoning,
                          thinking_budget=thinking_budget)
    for key, value in call_kwargs.items():
        if key in SAMPLING_PARAMS:
            params[key] = value
        elif key in _REQUEST_FIELDS:
            setattr(request, key, value)
        elif key == "extra_body":
            extra.update(value or {})
        elif not (key.startswith("ls_") or key == "stream"):
            extra[key] = value
    request.params = params
    request.extra_body = extra
    return request


PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")


def _check_options(
    timeout: float | None,
    connect_timeout: float | None,
    stall_timeout: float | None,
    total_timeout: float | None,
    max_connections: int,
    verify: bool | str,
    proxy: str | None,
    auth_scheme: str | None,
    think_tags: str | None,
) -> None:
    """Reject transport options that would otherwise fail late (at the first call) or obscurely."""
    for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout),
                        ("stall_timeout", stall_timeout), ("total_timeout", total_timeout)):
        if value is not None and value <= 0:
            raise ConfigurationError(f"{name}={value} must be a positive number of seconds (or None)")
    if max_connections < 1:
        raise ConfigurationError(f"max_connections={max_connections} must be >= 1")
    if isinstance(verify, str) and not os.path.exists(verify):
        raise ConfigurationError(
            f"verify={verify!r}: no such CA bundle; pass True, False, or the path of a PEM file (or directory)"
        )
    if proxy is not None and not proxy.startswith(PROXY_SCHEMES):
        raise ConfigurationError(f"proxy={proxy!r} must be a URL starting with one of {', '.join(PROXY_SCHEMES)}")
    check_auth_scheme(auth_scheme)
    if think_tags is not None and think_tags not in THINK_MODES:
        raise ConfigurationError(f"think_tags={think_tags!r} must be one of {', '.join(THINK_MODES)}")


def as_messages(messages: Sequence[Message | dict[str, Any]] | str) -> list[Message]:
    """Accept `Message`s, OpenAI-style dicts or a lone prompt string."""
    if isinstance(messages, str):
        return [Message("user", messages)]
    out = []
    for m in messages:
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, dict):
            out.append(Message(m["role"], m.get("content") or "", name=m.get("name"), tool_call_id=m.get("tool_call_id")))
        else:
            raise ConfigurationError(f"messages: expected Message or dict, got {type(m).__name__}")
    return out


#: ChatClient keyword arguments that adapters expose under the same names (api_key aside)
CLIENT_OPTIONS = (
    "model", "endpoint", "base_url", "dialect", "auth_scheme", "token_provider", "timeout", "connect_timeout",
    "stall_timeout", "total_timeout", "max_retries", "default_headers", "verify", "proxy", "max_connections",
    "think_tags", "think_starts_open", "stream_usage", "strict", "chat_template", "trim_role_leaks",
    "model_family", "thinking_style", "reasoning_field", "text_tool_calls",
)


def client_from(config: Any, api_key: Any) -> ChatClient:
    """A `ChatClient` from an adapter object whose attributes are named as in `CLIENT_OPTIONS`.

    `api_key` may be a pydantic `SecretStr`; it is unwrapped here and nowhere else.
    """
    secret = api_key.get_secret_value() if hasattr(api_key, "get_secret_value") else api_key
    return ChatClient(api_key=secret, **{name: getattr(config, name) for name in CLIENT_OPTIONS})


class ChatClient:
    """A configured connection to one chat endpoint.

    ```python
    client = ChatClient(model="qwen-72b", base_url="http://127.0.0.1:1025/v1")
    print(client.invoke([{"role": "user", "content": "你好"}]).text)
    for chunk in client.stream("讲个笑话"):
        print(chunk.text, end="")
    ```
    """

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
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        stall_timeout: float | None = None,
        total_timeout: float | None = None,
        max_retries: int = 2,
        default_headers: dict[str, str] | None = None,
        verify: bool | str = True,
        proxy: str | None = None,
        max_connections: int = 100,
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
        if chat_template is not None:
            if not hasattr(self.dialect, "with_template"):
                raise ConfigurationError(
                    f"chat_template: the {self.dialect.name!r} dialect sends messages, the server applies the "
                    "template; chat_template applies to prompt-style dialects (tgi, vllm_generate, triton)"
                )
            self.dialect = self.dialect.with_template(chat_template)
        if hasattr(self.dialect, "check_model"):
            self.dialect.check_model(self.model)  # a chat template must be known before any request
        # a key in the URL's query or in a header becomes api_key + auth_scheme (see credentials)
        lifted = lift_credentials(url, default_headers, secret_value(api_key) if api_key is not None else env("API_KEY"),
                                  auth_scheme, has_token_provider=token_provider is not None)
        self.url, self._api_key, self.auth_scheme = lifted.url or url, lifted.api_key, lifted.auth_scheme
        default_headers = {k: secret_value(v) for k, v in (lifted.headers or {}).items()}
        self.token_provider = token_provider
        if max_retries < 0:
            raise ConfigurationError(f"max_retries={max_retries} must be >= 0")
        _check_options(timeout, connect_timeout, stall_timeout, total_timeout, max_connections, verify, proxy,
                       auth_scheme, think_tags)
        self.max_retries = max_retries
        self.stall_timeout = stall_timeout
        self.total_timeout = total_timeout
        # model-family knowledge (families.py): what the table says unless overridden here
        self.family_options = FamilyOptions(model_family, thinking_style, think_starts_open, think_tags,
                                            reasoning_field, text_tool_calls)
        self.family_options.check()
        self.options = ParseOptions(
            think_tags=think_tags or self.dialect.think_tags,
            think_starts_open=bool(think_starts_open),
            include_usage=stream_usage,
            strict=strict,
            trim_role_leaks=trim_role_leaks,
        )
        warn_plain_http(self.url, "api_key" if self._api_key else "token_provider" if token_provider is not None
                        else "header " + lifted.secret_headers[0] if lifted.secret_headers else None)
        redact_httpx_log()
        self.transport = Transport(
            timeout=timeout,
            connect_timeout=connect_timeout,
            verify=verify,
            headers=default_headers,
            proxy=proxy,
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, dialect={self.dialect.name!r}, url={redact_url(self.url)!r})"

    # ---- request building ---------------------------------------------------------

    def request(self, messages: Sequence[Message | dict[str, Any]] | str, **params: Any) -> ChatRequest:
        """A `ChatRequest` for this client's model; keyword arguments become sampling params."""
        return ChatRequest(model=self.model, messages=as_messages(messages), params=params)

    def _headers(self, stream: bool, token: str | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        headers.update(self.dialect.auth_headers(token, self.auth_scheme))
        return headers

    @classmethod
    def from_curl(cls, text: str, **overrides: Any) -> ChatClient:
        """A client configured from a curl command as printed in a vendor document."""
        from .curl import client_kwargs_from_curl

        return cls(**{**client_kwargs_from_curl(text), **overrides})

    def _prepare(self, request: ChatRequest) -> ChatRequest:
        if self.params:
            request.params = {**self.params, **request.params}
        if self.model_kwargs:
            request.extra_body = {**self.model_kwargs, **request.extra_body}
        if not request.model:
            request.model = self.model
        if not request.model:
            raise ConfigurationError("model is not set: pass model='...' or set DOMESTIC_LLM_MODEL")
        if not request.messages:
            raise ConfigurationError("messages is empty: at least one message is required")
        if request.tools and not self.dialect.supports_tools:
            raise ConfigurationError(f"tools: the {self.dialect.name!r} dialect cannot carry tool definitions")
        self.dialect.validate(request)
        return request

    def _plan(self, request: ChatRequest) -> CallPlan:
        """Apply the model-family table to a prepared request (see `callplan`)."""
        return plan_request(self._prepare(request), self.dialect, self.family_options, self.options)

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

    # ---- error mapping and retry policy ----------------------------------------------

    def _status_error(self, resp: httpx.Response, body_bytes: bytes, token: str | None) -> DomesticLLMError:
        try:
            body: Any = json.loads(body_bytes)
        except ValueError:
            body = body_bytes.decode("utf-8", "replace")
        info = self.dialect.parse_error(resp.status_code, body)
        request_id = info.request_id or _header_request_id(resp.headers)
        server_message = _scrub(info.message, token)
        cls = error_class_for(resp.status_code, server_message)
        text = f"{self.dialect.name} endpoint answered HTTP {resp.status_code}"
        if server_message:
            text += f": {server_message}"
        exc = cls(
            text,
            status=resp.status_code,
            code=info.code,
            server_message=server_message,
            request_id=request_id,
            url=self.url,
            body=body if scrub(str(body), token) == str(body) else "<redacted>",
        )
        exc.retry_after = parse_retry_after(resp.headers.get("retry-after"))  # type: ignore[attr-defined]
        return exc

    def _retry_delay(self, attempt: int, exc: DomesticLLMError, started: float) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or `None` to give up."""
        if attempt >= self.max_retries or not exc.retryable:
            return None
        delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt) * (0.5 + random.random() / 2)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = min(max(delay, retry_after), RETRY_AFTER_CAP)
        if self.total_timeout is not None and time.monotonic() - started + delay > self.total_timeout:
            return None
        log.info("domestic_llm: retrying after %s (attempt %d, in %.2fs)", type(exc).__name__, attempt + 1, delay)
        return delay

    def _recover(self, exc: DomesticLLMError, http: HttpRequest, state: dict[str, bool]) -> bool:
        """Errors fixed by changing the request rather than waiting: True means try again now."""
        if isinstance(exc, AuthenticationError) and self.token_provider is not None and not state["refreshed"]:
            state["refreshed"] = True
            return True
        if (
            isinstance(exc, BadRequestError)
            and not isinstance(exc, ContextOverflowError)
            and http.json is not None
            and "stream_options" in http.json
            and not state["no_stream_options"]
        ):
            # some strict servers reject stream_options: ask once more without it; remembered
            # for this client only if that works (see _sent), so an unrelated 400 changes nothing
            log.warning("domestic_llm: %s rejected the request; retrying once without stream_options",
                        redact_url(self.url))
            state["no_stream_options"] = True
            return True
        return False

    def _sent(self, state: dict[str, bool]) -> None:
        """A request succeeded: keep what recovery learned about this server."""
        if state["no_stream_options"] and self.options.include_usage:
            log.warning("domestic_llm: %s does not accept stream_options; not sending it again (no stream usage)",
                        redact_url(self.url))
            self.options.include_usage = False

    def _http(self, request: ChatRequest, stream: bool, token: str | None, state: dict[str, bool]) -> HttpRequest:
        """The HTTP request of one attempt (without stream_options once a strict server refused them)."""
        options = replace(self.options, include_usage=False) if state["no_stream_options"] else self.options
        url = with_query_credential(self.dialect.call_url(self.url, request, stream), self.auth_scheme, token)
        return self.dialect.build_request(
            request, url=url, stream=stream, headers=self._headers(stream, token), options=options
        )

    # ---- sending ---------------------------------------------------------------------

    def _open(self, request: ChatRequest, stream: bool) -> httpx.Response:
        request = self._prepare(request)
        started = time.monotonic()
        state = {"refreshed": False, "no_stream_options": False}
        attempt = 0
        while True:
            token = self._token_sync(state["refreshed"])
            http = self._http(request, stream, token, state)
            try:
                resp = self.transport.send(http, stream=stream)
                if resp.status_code >= 400:
                    body = resp.read()
                    resp.close()
                    exc = self._status_error(resp, body, token)
                    if _model_missing(exc):
                        exc = _with_served_models(exc, self._served_models_hint())
                    raise exc
                self._sent(state)
                return resp
            except DomesticLLMError as exc:
                if self._recover(exc, http, state):
                    continue
                delay = self._retry_delay(attempt, exc, started)
                if delay is None:
                    raise
                attempt += 1
                time.sleep(delay)

    async def _aopen(self, request: ChatRequest, stream: bool) -> httpx.Response:
        request = self._prepare(request)
        started = time.monotonic()
        state = {"refreshed": False, "no_stream_options": False}
        attempt = 0
        while True:
            token = await self._token_async(state["refreshed"])
            http = self._http(request, stream, token, state)
            try:
                resp = await self.transport.asend(http, stream=stream)
                if resp.status_code >= 400:
                    body = await resp.aread()
                    await resp.aclose()
                    exc = self._status_error(resp, body, token)
                    if _model_missing(exc):
                        exc = _with_served_models(exc, await self._aserved_models_hint())
                    raise exc
                self._sent(state)
                return resp
            except DomesticLLMError as exc:
                if self._recover(exc, http, state):
                    continue
                delay = self._retry_delay(attempt, exc, started)
                if delay is None:
                    raise
                attempt += 1
                await asyncio.sleep(delay)

    def _result(self, resp: httpx.Response, options: ParseOptions | None = None,
                fixes: AnswerFixes | None = None) -> ChatResult:
        recovered = False
        try:
            body = json.loads(resp.content)
        except ValueError:
            try:
                body, recovered = loads_lenient(resp.text)
            except ValueError:
                raise MalformedResponseError(
                    f"{self.dialect.name} endpoint answered HTTP {resp.status_code} with a body that is not JSON: "
                    f"{resp.text[:200]!r}",
                    status=resp.status_code,
                    url=self.url,
                    request_id=_header_request_id(resp.headers),
                ) from None
        try:
            result = self.dialect.parse_response(body, options or self.options)
        except DomesticLLMError as exc:
            exc.url = exc.url or redact_url(self.url)
            exc.status = exc.status or resp.status_code
            raise
        request_id = _header_request_id(resp.headers)
        if request_id:
            result.metadata.setdefault("request_id", request_id)
        if recovered:
            result.metadata["recovered_body"] = True
        if fixes:
            result = fix_result(result, fixes)
        return result

    def invoke(self, messages: ChatRequest | Sequence[Message | dict[str, Any]] | str, **params: Any) -> ChatResult:
        """One complete answer."""
        request = messages if isinstance(messages, ChatRequest) else self.request(messages, **params)
        plan = self._plan(request)
        if plan.budget is not None:
            return _budget.invoke(self, request, plan.budget)
        resp = self._open(request, stream=False)
        return self._result(resp, self.dialect.call_options(request, plan.parse), plan.fixes)

    async def ainvoke(
        self, messages: ChatRequest | Sequence[Message | dict[str, Any]] | str, **params: Any
    ) -> ChatResult:
        """One complete answer, natively async."""
        request = messages if isinstance(messages, ChatRequest) else self.request(messages, **params)
        plan = self._plan(request)
        if plan.budget is not None:
            return await _budget.ainvoke(self, request, plan.budget)
        resp = await self._aopen(request, stream=False)
        return self._result(resp, self.dialect.call_options(request, plan.parse), plan.fixes)

    def stream(
        self, messages: ChatRequest | Sequence[Message | dict[str, Any]] | str, **params: Any
    ) -> Iterator[ChatChunk]:
        """Chunks as the bytes arrive; the last chunk has `final=True` with usage and metadata."""
        request = messages if isinstance(messages, ChatRequest) else self.request(messages, **params)
        plan = self._plan(request)
        if plan.budget is not None:
            yield from _budget.stream(self, request, plan.budget)
            return
        resp = self._open(request, stream=True)
        run = _StreamRun(self, resp, self.dialect.call_options(request, plan.parse), plan.fixes)
        try:
            for raw in resp.iter_bytes():
                yield from run.on_bytes(raw)
        except httpx.TransportError as exc:
            raise run.interrupted(exc) from exc
        finally:
            resp.close()
        yield from run.end()

    async def astream(
        self, messages: ChatRequest | Sequence[Message | dict[str, Any]] | str, **params: Any
    ) -> AsyncIterator[ChatChunk]:
        """Chunks as the bytes arrive, natively async."""
        request = messages if isinstance(messages, ChatRequest) else self.request(messages, **params)
        plan = self._plan(request)
        if plan.budget is not None:
            async for chunk in _budget.astream(self, request, plan.budget):
                yield chunk
            return
        resp = await self._aopen(request, stream=True)
        run = _StreamRun(self, resp, self.dialect.call_options(request, plan.parse), plan.fixes)
        try:
            async for raw in resp.aiter_bytes():
                for chunk in run.on_bytes(raw):
                    yield chunk
        except httpx.TransportError as exc:
            raise run.interrupted(exc) from exc
        finally:
            await resp.aclose()
        for chunk in run.end():
            yield chunk

    # ---- discovery ---------------------------------------------------------------------

    def list_models(self) -> list[str]:
        """Ids of the models the server serves (`/v1/models`; TGI `/info`; Triton's repository index)."""
        token = self._token_sync(False)
        last: DomesticLLMError | None = None
        for http in self.dialect.models_requests(self.url):
            http.headers.update(self.dialect.auth_headers(token, self.auth_scheme))
            http.url = with_query_credential(http.url, self.auth_scheme, token)
            resp = self.transport.send(http, stream=False)
            if resp.status_code < 400:
                return self.dialect.parse_models(resp.json())
            last = self._status_error(resp, resp.content, token)
        assert last is not None
        raise last

    async def alist_models(self) -> list[str]:
        """`list_models`, natively async."""
        token = await self._token_async(False)
        last: DomesticLLMError | None = None
        for http in self.dialect.models_requests(self.url):
            http.headers.update(self.dialect.auth_headers(token, self.auth_scheme))
            http.url = with_query_credential(http.url, self.auth_scheme, token)
            resp = await self.transport.asend(http, stream=False)
            if resp.status_code < 400:
                return self.dialect.parse_models(resp.json())
            last = self._status_error(resp, resp.content, token)
        assert last is not None
        raise last

    def _served_models_hint(self) -> list[str] | None:
        try:
            return self.list_models()
        except (DomesticLLMError, ValueError):
            return None  # the hint is a courtesy: the original error is what matters

    async def _aserved_models_hint(self) -> list[str] | None:
        try:
            return await self.alist_models()
        except (DomesticLLMError, ValueError):
            return None

    def close(self) -> None:
        """Close pooled connections (the client opens new ones if used again)."""
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()


class _StreamRun:
    """The per-stream work shared by `stream` and `astream`: bytes → events → chunks."""

    __slots__ = ("client", "resp", "decoder", "parser", "fixer", "text", "reasoning", "last_data")

    def __init__(self, client: ChatClient, resp: httpx.Response, options: ParseOptions,
                 fixes: AnswerFixes | None = None) -> None:
        self.client = client
        self.resp = resp
        self.decoder = client.dialect.event_decoder()
        self.parser = client.dialect.stream_parser(options)
        self.fixer = AnswerFixer(fixes) if fixes else None
        self.text: list[str] = []  # kept only to report partial text if the stream breaks
        self.reasoning: list[str] = []
        self.last_data = time.monotonic()

    def on_bytes(self, raw: bytes) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        events = self.decoder.feed(raw)
        for event in events:
            out.extend(self.parser.feed(event))
        if self.fixer is not None and out:
            out = self.fixer.feed(out)
        stall = self.client.stall_timeout
        if stall is not None:  # keep-alive comments produce no events; they must not count as data
            now = time.monotonic()
            if any(event.data is not None for event in events):
                self.last_data = now
            elif now - self.last_data > stall:
                raise self.interrupted(None, stalled=stall)
        for chunk in out:
            if chunk.text:
                self.text.append(chunk.text)
            if chunk.reasoning:
                self.reasoning.append(chunk.reasoning)
        return out

    def end(self) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        for event in self.decoder.flush():
            out.extend(self.parser.feed(event))
        if not self.parser.complete:
            raise self.interrupted(None)
        out.extend(self.parser.finish())
        if self.fixer is not None:
            out = self.fixer.finish(out)
        request_id = _header_request_id(self.resp.headers)
        if request_id:
            out[-1].metadata.setdefault("request_id", request_id)
        return out

    def interrupted(self, exc: BaseException | None, stalled: float | None = None) -> StreamInterruptedError:
        cls: type[StreamInterruptedError] = StreamInterruptedError
        if stalled is not None:
            why, cls = f"no data for {stalled}s (only keep-alives)", StreamTimeoutError
        elif isinstance(exc, httpx.TimeoutException):
            why, cls = f"read timed out ({type(exc).__name__})", StreamTimeoutError
        elif exc is not None:
            why = f"connection lost ({type(exc).__name__})"
        else:
            why = "the stream ended without [DONE] or a finish reason"
        text = "".join(self.text)
        return cls(
            f"stream interrupted: {why} after {len(text)} characters of answer",
            partial_text=text,
            partial_reasoning="".join(self.reasoning),
            url=self.client.url,
            request_id=_header_request_id(self.resp.headers),
        )


def _model_missing(exc: DomesticLLMError) -> bool:
    """A 404 whose message says the requested model does not exist."""
    text = (exc.server_message or "").lower()
    return getattr(exc, "status", None) == 404 and "model" in text and (
        "does not exist" in text or "not found" in text or "not exist" in text)


def _with_served_models(exc: DomesticLLMError, served: list[str] | None) -> DomesticLLMError:
    if served:
        exc.served_models = served  # type: ignore[attr-defined]
        exc.args = (f"{exc.args[0]}; the server serves: {', '.join(served)}", *exc.args[1:])
    return exc


def _header_request_id(headers: httpx.Headers) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _scrub(text: str | None, token: str | None) -> str | None:
    return scrub(text, token)

