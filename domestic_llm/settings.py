"""`EndpointSettings`: the configuration both framework adapters expose, defined once.

`ChatDomestic` and `DomesticLLM` inherit it next to their framework's base class,
so every field, the `DOMESTIC_LLM_*` environment fallback, `from_curl`, the
construction of the core `ChatClient` and the building of a `ChatRequest` from
call keyword arguments behave the same in both. Field names are `ChatClient`'s
keyword arguments (`config.CLIENT_OPTIONS`) and sampling parameter names
(`config.SAMPLING_PARAMS`). Both adapters are also context managers: `close()` /
`aclose()` release the connection pools.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    model_validator,
)

from .arguments import check_arguments, known_names, merge_model_kwargs
from .client import ChatClient
from .config import CLIENT_OPTIONS, DEFAULTS, SAMPLING_PARAMS, env, make_request
from .credentials import is_secret_header, lift_credentials, secret_value
from .dialects.base import Dialect
from .errors import ConfigurationError
from .thinking import ThinkMode
from .transport import Closeable
from .types import ChatRequest, Message
from .urls import tidy_url


def api_key_from_env() -> SecretStr | None:
    value = env("API_KEY")
    return SecretStr(value) if value else None


class EndpointSettings(BaseModel, Closeable):
    """Where the endpoint is, how to talk to it, and the default sampling parameters."""

    # defer_build: this base is never validated itself, only the adapters that inherit it, so building its
    # validator at import is wasted work. The adapters set defer_build=False: their own validators are built
    # when they are imported, not at their first instantiation.
    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=(),
                              defer_build=True)

    model: str = Field(default_factory=lambda: env("MODEL") or "")
    """Model name sent in the request body (`DOMESTIC_LLM_MODEL`)."""
    endpoint: str | None = None
    """Full URL of the chat route, as a vendor document prints it; the dialect is inferred from its path."""
    base_url: str | None = None
    """OpenAI-convention prefix such as `http://host:1025/v1`; the dialect appends its own path."""
    api_key: SecretStr | None = Field(default_factory=api_key_from_env)
    """Key or token (`DOMESTIC_LLM_API_KEY`); sent the way the dialect wants (Bearer, raw, X-Auth-Token)."""
    dialect: str | Dialect | None = Field(default_factory=lambda: env("DIALECT"))
    """Dialect name (see `domestic_llm.known_dialects()`) or a configured `Dialect` instance
    (e.g. `TritonDialect(stream_output="delta")`); inferred from the URL when unset."""
    auth_scheme: str | None = None
    """Override how the key is sent: `bearer`, `raw`, `x-auth-token`, `basic`, `none`, `header:<Name>` or
    `query:<name>` (see `domestic_llm.credentials`); default is the dialect's own scheme."""
    token_provider: Callable[[], Any] | None = Field(default=None, exclude=True)
    """Callable (sync or async) returning a fresh token; asked before each request and again after a 401."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    top_k: int | None = None
    penalty_score: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra JSON body fields sent with every request (e.g. `modelVersion`); also accepted as `extra_body=`
    (and `additional_kwargs=`)."""
    model_per_call: bool = False
    """Allow construction without a model because every call names one (`invoke(..., model=...)`)."""

    thinking: bool | None = None
    """Switch the model's thinking on/off, in the request field its family (or the endpoint) uses; `None` sends nothing."""
    thinking_budget: int | None = None
    """Bound thinking to about this many tokens: natively where the server can, else enforced by the client."""
    thinking_style: str | None = None
    """Which request field carries the thinking switch (`domestic_llm.families.THINKING_STYLES`); default: the family's."""
    model_family: str | None = None
    """Treat the model as this family of `domestic_llm.families.FAMILIES` (for renamed deployments); default: by name."""
    think_tags: ThinkMode | None = None
    """Inline `<think>` handling: split into reasoning, drop, or keep in content (default: dialect's, then family's)."""
    think_starts_open: bool | None = None
    """The server's chat template already opened `<think>`: text is reasoning until `</think>` (default: family's)."""
    send_reasoning: bool | Literal["tool_turns", "all", "never"] | None = None
    """Which earlier reasoning goes back to the server: `tool_turns`, `all`, `never` (default: the family's)."""
    reasoning_field: Literal["reasoning_content", "reasoning"] | None = None
    """The field reasoning is sent back in (default: the family's, else `reasoning_content`)."""
    text_tool_calls: bool = True
    """With tools bound, turn tool-call markup in the answer text into tool calls (servers without a tool parser)."""

    timeout: float | None = DEFAULTS.timeout
    """Seconds allowed for a whole non-streamed answer, and for each read of a stream."""
    connect_timeout: float | None = DEFAULTS.connect_timeout
    stall_timeout: float | None = None
    """Seconds a stream may go without a data event, silent or sending only keep-alive comments."""
    total_timeout: float | None = None
    """Cap in seconds on a whole call: every attempt, the backoff between them and the reading of the answer."""
    max_retries: int = DEFAULTS.max_retries
    default_headers: dict[str, str | SecretStr] | None = None
    """Headers sent with every request; key-like ones (`apikey`, `X-Api-Key`, …) are kept as secrets."""
    verify: bool | str = True
    """TLS verification: `True`, `False`, or the path of a CA bundle (private CAs)."""
    proxy: str | None = None
    max_connections: int = DEFAULTS.max_connections
    stream_usage: bool = True
    """Ask for usage in streams (`stream_options.include_usage`)."""
    strict: bool = False
    """Raise on an unparseable stream line instead of skipping it with a warning."""
    chat_template: str | None = None
    """Prompt-style dialects (tgi, vllm_generate, triton): a built-in template name (`chatml`, `baichuan2`,
    `deepseek_r1`, `llama3`) or a Jinja `chat_template` from the model's tokenizer_config.json;
    inferred from the model name when unset."""
    trim_role_leaks: bool = True
    """Drop a trailing bare role line (`\nuser\n`) that a server without the model's chat template leaks."""
    token_counting: Literal["auto", "server", "local"] = "auto"
    """How `get_num_tokens*` count: the server's /tokenize, else `tokenizer`, else an estimate (see domestic_llm.tokens)."""
    tokenizer: Callable[[str], Any] | str | None = Field(default=None, exclude=True)
    """A callable `text -> ids` or the path of a local tokenizer.json, used where the server has no /tokenize."""
    tokenize_url: str | None = Field(default=None, pattern=r"^https?://")
    """Where the server's /tokenize is; default: `/tokenize` at the root of the chat URL's server."""

    _client: ChatClient | None = PrivateAttr(default=None)
    _token_counter: Any = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # Checked here rather than in a validator so that the caller gets a ConfigurationError,
        # not pydantic's ValidationError wrapping it.
        check_arguments(type(self).__name__, data, known_names(type(self).model_fields) | {"class_name"})
        super().__init__(**secure_arguments(merge_model_kwargs(data)))

    @field_serializer("default_headers")
    def _headers_without_secrets(self, headers: dict[str, Any] | None) -> dict[str, str] | None:
        # to_dict/to_json/model_dump never carry a key; LangChain's dumpd uses lc_secrets instead
        return headers_without_secrets(headers)

    @model_validator(mode="before")
    @classmethod
    def _target_from_env(cls, values: Any) -> Any:
        # the environment fills in a URL only when no URL argument was given: an explicit
        # base_url must not lose to DOMESTIC_LLM_ENDPOINT
        if isinstance(values, dict) and not values.get("endpoint") and not values.get("base_url"):
            values = {**values, "endpoint": env("ENDPOINT"), "base_url": env("BASE_URL")}
        return values

    @model_validator(mode="after")
    def _build_client(self) -> Any:
        # Built at construction so configuration errors surface before any request;
        # it opens no connection until the first call.
        if not self.model and not self.model_per_call:
            raise ConfigurationError(
                "model is not set: pass model='...' or set DOMESTIC_LLM_MODEL (if every call names its model, "
                "invoke(..., model='...'), pass model_per_call=True)"
            )
        self._client = client_from(self, self.api_key)
        return self

    @classmethod
    def from_curl(cls, text: str, **overrides: Any) -> Any:
        """An instance configured from a curl command as printed in a vendor document.

        URL (and so the dialect), the key and how it is sent (raw, Bearer, X-Auth-Token),
        the model name, sampling parameters and other body fields (into `model_kwargs`)
        are taken from the command; transport noise headers are dropped. Keyword
        arguments override what the command says.
        """
        from .curl import client_kwargs_from_curl

        kwargs = client_kwargs_from_curl(text)
        params = kwargs.pop("params", {})
        kwargs.update({k: v for k, v in params.items() if k in cls.model_fields})
        return cls(**{**kwargs, **overrides})

    @property
    def client(self) -> ChatClient:
        """The core client doing the HTTP work (one connection pool per instance)."""
        # straight from pydantic's private store: `self._client` first fails the normal attribute
        # lookup and then runs pydantic's `__getattr__`, ~4 µs per access on LangChain's deep MRO
        client: ChatClient | None = self.__pydantic_private__["_client"]  # type: ignore[index]
        assert client is not None
        return client

    def list_models(self) -> list[str]:
        """Ids of the models the server serves (`/v1/models`; TGI `/info`; Triton's repository index)."""
        return self.client.list_models()

    async def alist_models(self) -> list[str]:
        """`list_models`, natively async."""
        return await self.client.alist_models()

    @property
    def token_counter(self) -> Any:
        """The `domestic_llm.tokens.TokenCounter` behind `get_num_tokens*` (made on first use)."""
        if self._token_counter is None:
            from .tokens import TokenCounter

            self._token_counter = TokenCounter(self.client, mode=self.token_counting, tokenizer=self.tokenizer,
                                               tokenize_url=self.tokenize_url)
        return self._token_counter

    def close(self) -> None:
        """Close the connection pool (a later call opens new connections)."""
        self.client.close()

    async def aclose(self) -> None:
        """Close the connection pools, the async one included."""
        await self.client.aclose()

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that are set (`n=1` is the servers' default and not sent)."""
        # from __dict__: a parameter that is not a field of this class (`n` on DomesticLLM) would
        # cost getattr an AttributeError inside pydantic's __getattr__, on every call
        fields = self.__dict__
        params = {k: fields.get(k) for k in SAMPLING_PARAMS}
        if params["n"] == 1:
            params["n"] = None  # some gateways reject `n`
        return {k: v for k, v in params.items() if v is not None}

    def chat_request(self, messages: list[Message], call_kwargs: dict[str, Any]) -> ChatRequest:
        """A `ChatRequest` from these defaults and one call's keyword arguments (see `make_request`)."""
        return make_request(self.model, messages, self.sampling(), self.model_kwargs, call_kwargs,
                            thinking=self.thinking, send_reasoning=self.send_reasoning,
                            thinking_budget=self.thinking_budget)


def headers_without_secrets(headers: dict[str, Any] | None) -> dict[str, str] | None:
    """`default_headers` as serialised: without the values kept as secrets."""
    if headers is None:
        return None
    return {k: v for k, v in headers.items() if not isinstance(v, SecretStr)}


def secure_arguments(values: dict[str, Any], *, target_from_env: bool = True) -> dict[str, Any]:
    """Tidy the URL arguments and move any key found in a URL or header into `api_key` + `auth_scheme`.

    Afterwards no field but `api_key` (a `SecretStr`) and secret-flagged `default_headers`
    values hold a credential, so repr, serialisation and tracing have nothing to leak.
    The chat settings and the embedding/rerank settings (`deployment`) both pass through
    here; the latter fill their URL from their own variables first (`target_from_env=False`).
    """
    values = dict(values)
    if target_from_env and not values.get("endpoint") and not values.get("base_url"):
        values["endpoint"], values["base_url"] = env("ENDPOINT"), env("BASE_URL")
    for name in ("endpoint", "base_url"):
        values[name] = tidy_url(name, values.get(name))
    url_name = "endpoint" if values.get("endpoint") else "base_url"
    api_key = values.get("api_key")
    headers = values.get("default_headers")
    lifted = lift_credentials(
        values.get(url_name),
        _resolve_secret_references(headers) if isinstance(headers, dict) else headers,
        secret_value(api_key) if api_key is not None else env("API_KEY"),
        values.get("auth_scheme"),
        has_token_provider=values.get("token_provider") is not None,
        url_name=url_name,
    )
    values[url_name] = lifted.url
    if lifted.api_key is not None:
        values["api_key"] = SecretStr(lifted.api_key)
    if lifted.auth_scheme is not None:
        values["auth_scheme"] = lifted.auth_scheme
    if lifted.headers is not None or values.get("default_headers") is not None:
        values["default_headers"] = {k: SecretStr(str(secret_value(v))) if is_secret_header(k) else v
                                     for k, v in (lifted.headers or {}).items()} or None
    return values


def _resolve_secret_references(headers: dict[str, Any]) -> dict[str, Any]:
    """Header values that are LangChain secret markers (`dumpd` of a key header) read from their variable.

    langchain-core escapes markers nested in a dict, so `load()` hands them back as plain
    dicts; they name the environment variable that holds the header (see `ChatDomestic.lc_secrets`).
    """
    out = {}
    for name, value in headers.items():
        if isinstance(value, dict):
            marker = value.get("__lc_escaped__", value)
            ids = marker.get("id") if isinstance(marker, dict) and marker.get("type") == "secret" else None
            if not ids:
                raise ConfigurationError(f"default_headers[{name!r}] must be a string, got a {type(value).__name__}")
            value = os.environ.get(ids[0])
            if not value:
                raise ConfigurationError(
                    f"default_headers[{name!r}] is a secret reference to {ids[0]}: set that environment variable "
                    "or pass the header again"
                )
        out[name] = value
    return out


def client_from(config: Any, api_key: Any) -> ChatClient:
    """A `ChatClient` from an adapter object whose attributes are named as in `CLIENT_OPTIONS`.

    `api_key` may be a pydantic `SecretStr`; it is unwrapped here and nowhere else.
    """
    secret = api_key.get_secret_value() if hasattr(api_key, "get_secret_value") else api_key
    return ChatClient(api_key=secret, **{name: getattr(config, name) for name in CLIENT_OPTIONS})
