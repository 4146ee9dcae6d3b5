"""Settings of the embedding and rerank routes, and `Deployment`: one object for a whole private deployment.

`EmbeddingSettings` and `RerankSettings` are what `DomesticEmbeddings` /
`DomesticReranker` (LangChain) and `DomesticEmbedding` / `DomesticRerank`
(LlamaIndex) inherit, as `EndpointSettings` is for the chat models. Their
connection fields (`ConnectionSettings`) are the chat side's, with the same
names, defaults and meaning, so one `Deployment` can hand the same key, CA
bundle, proxy, timeouts and retries to all three routes:

```python
dep = Deployment(
    api_key="sk-...", verify="/etc/pki/private-ca.pem",
    chat={"model": "qwen2.5-72b-instruct", "base_url": "https://llm.corp/v1"},
    embedding={"model": "bge-m3", "base_url": "https://emb.corp/v1"},
    rerank={"model": "bge-reranker-v2-m3", "endpoint": "https://rerank.corp/rerank"},  # TEI
)
llm = ChatDomestic(**dep.chat_kwargs())
embeddings = DomesticEmbeddings(**dep.embedding_kwargs())
reranker = DomesticReranker(**dep.rerank_kwargs())
```

Environment: `DOMESTIC_LLM_EMBEDDING_{MODEL,ENDPOINT,BASE_URL,DIALECT,API_KEY}` and
`DOMESTIC_LLM_RERANK_{…}`; the key falls back to `DOMESTIC_LLM_API_KEY` (one
gateway, one key), the URL and model never fall back to the chat model's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_serializer, model_validator

from .config import env
from .embeddings import EmbeddingClient
from .errors import ConfigurationError
from .rerank import RerankClient
from .service import CONNECTION_OPTIONS, DEFAULT_MAX_CONCURRENCY, settings_env
from .settings import headers_without_secrets, secure_arguments


class ConnectionSettings(BaseModel):
    """How to reach a server: the chat settings' connection fields, same names, defaults and meaning."""

    # extra="forbid": a misspelt setting is an error, never silently dropped
    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True,
                              protected_namespaces=())

    api_key: SecretStr | None = None
    """Key or token; sent the way the route's dialect wants (`auth_scheme` overrides)."""
    auth_scheme: str | None = None
    """`bearer`, `raw`, `x-auth-token`, `basic`, `header:<Name>`, `query:<name>` or `none`."""
    token_provider: Callable[[], Any] | None = Field(default=None, exclude=True)
    """Callable (sync or async) returning a fresh token; asked before each request and again after a 401."""
    timeout: float | None = 120.0
    """Seconds allowed for each network read."""
    connect_timeout: float | None = 10.0
    total_timeout: float | None = None
    """Cap in seconds on a whole request including retries."""
    max_retries: int = 2
    default_headers: dict[str, str | SecretStr] | None = None
    verify: bool | str = True
    """TLS verification: `True`, `False`, or the path of a CA bundle (private CAs)."""
    proxy: str | None = None
    max_connections: int = 100

    @field_serializer("default_headers")
    def _headers_without_secrets(self, headers: dict[str, Any] | None) -> dict[str, str] | None:
        return headers_without_secrets(headers)

    def connection(self) -> dict[str, Any]:
        """The connection options as `ChatClient` / `EmbeddingClient` / `RerankClient` keyword arguments."""
        return {name: getattr(self, name) for name in CONNECTION_OPTIONS}


class ServiceSettings(ConnectionSettings):
    """Route, model and batching of an embedding or rerank endpoint (base of the two below)."""

    _kind: ClassVar[str] = ""

    model: str = ""
    """Model name sent in the request body (`DOMESTIC_LLM_<KIND>_MODEL`); TEI ignores it."""
    endpoint: str | None = None
    """Full URL of the route (`…/v1/embeddings`, `…/embed`, `…/rerank`, `…/score`); the dialect follows its path."""
    base_url: str | None = None
    """OpenAI-convention prefix such as `http://host:8000/v1`; the dialect appends its own path."""
    dialect: str | None = None
    batch_size: int | None = Field(default=None, gt=0)
    """Inputs per request; default 32 (safe for TEI's and llama.cpp's limits)."""
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, gt=0)
    """Requests in flight at once when a call needs several batches."""
    truncate: bool = False
    """Cut over-length inputs (the server's option where it has one) instead of raising `InputTooLongError`."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra JSON body fields sent with every request."""

    @model_validator(mode="before")
    @classmethod
    def _from_env(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        kind = cls._kind
        if not values.get("endpoint") and not values.get("base_url"):
            values["endpoint"] = settings_env(kind, "ENDPOINT")
            values["base_url"] = settings_env(kind, "BASE_URL")
        for name in ("model", "dialect"):
            if values.get(name) is None and settings_env(kind, name.upper()):
                values[name] = settings_env(kind, name.upper())
        if values.get("api_key") is None:
            values["api_key"] = settings_env(kind, "API_KEY") or env("API_KEY")
        # a key in the URL or a header moves into api_key/auth_scheme, as for the chat settings
        return secure_arguments(values, target_from_env=False)


class EmbeddingSettings(ServiceSettings):
    """Where the embedding model is and how to call it; builds the core `EmbeddingClient`."""

    _kind: ClassVar[str] = "embedding"

    dimensions: int | None = Field(default=None, gt=0)
    """Output dimensions for models that support shortening (OpenAI-style `dimensions`)."""
    encoding_format: Literal["float", "base64"] = "float"
    """How vectors travel: `base64` (float32) takes about a quarter of the bytes of JSON floats for dense vectors."""

    _client: EmbeddingClient | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_client(self) -> Any:
        # built at construction so configuration errors surface before any request
        self._client = EmbeddingClient(
            model=self.model, endpoint=self.endpoint, base_url=self.base_url, dialect=self.dialect,
            api_key=self.api_key.get_secret_value() if self.api_key else None, batch_size=self.batch_size,
            max_concurrency=self.max_concurrency, truncate=self.truncate, dimensions=self.dimensions,
            encoding_format=self.encoding_format, model_kwargs=self.model_kwargs, **self.connection(),
        )
        return self

    @property
    def client(self) -> EmbeddingClient:
        """The core client doing the HTTP work (one connection pool per instance)."""
        assert self._client is not None
        return self._client


class RerankSettings(ServiceSettings):
    """Where the reranker is and how to call it; builds the core `RerankClient`."""

    _kind: ClassVar[str] = "rerank"

    top_n: int | None = Field(default=3, gt=0)
    """How many documents to keep, best first (`None`: all, reordered)."""

    _client: RerankClient | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_client(self) -> Any:
        self._client = RerankClient(
            model=self.model, endpoint=self.endpoint, base_url=self.base_url, dialect=self.dialect,
            api_key=self.api_key.get_secret_value() if self.api_key else None, top_n=self.top_n,
            batch_size=self.batch_size, max_concurrency=self.max_concurrency, truncate=self.truncate,
            model_kwargs=self.model_kwargs, **self.connection(),
        )
        return self

    @property
    def client(self) -> RerankClient:
        assert self._client is not None
        return self._client


class Deployment(ConnectionSettings):
    """A private deployment's chat, embedding and rerank routes with one set of connection settings.

    Each route is a dict of that model class's own fields (`model`, `endpoint` or
    `base_url`, `dialect`, and anything else it takes); a connection field set
    in a route overrides the deployment's for that route only.
    """

    chat: dict[str, Any] = Field(default_factory=dict)
    embedding: dict[str, Any] = Field(default_factory=dict)
    rerank: dict[str, Any] = Field(default_factory=dict)

    def _kwargs(self, route: str) -> dict[str, Any]:
        settings = getattr(self, route)
        if not settings:
            raise ConfigurationError(f"Deployment has no {route} route: pass {route}={{'model': ..., 'base_url': ...}}")
        shared = {name: getattr(self, name) for name in self.model_fields_set if name in ConnectionSettings.model_fields}
        return {**shared, **settings}

    def chat_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `ChatDomestic` / `DomesticLLM` / `ChatClient`-style settings."""
        return self._kwargs("chat")

    def embedding_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `DomesticEmbeddings` / `DomesticEmbedding`."""
        return self._kwargs("embedding")

    def rerank_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `DomesticReranker` / `DomesticRerank`."""
        return self._kwargs("rerank")
