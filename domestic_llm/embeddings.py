"""`EmbeddingClient`: text embeddings from a private embedding server.

```python
client = EmbeddingClient(model="bge-m3", base_url="http://10.0.0.5:8000/v1")   # OpenAI-style /v1/embeddings
client = EmbeddingClient(endpoint="http://10.0.0.6:8080/embed")                # TEI
vectors = client.embed(["长江全长约6300公里", "三峡大坝位于湖北宜昌"])
```

Every answer is checked before it is returned: one vector per input, in input
order (by the server's `index`), all of one dimension (the requested
`dimensions` if any), none empty, all-zero or non-finite. An empty answer is an
error, never an empty success.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .errors import ConfigurationError, DomesticLLMError, redact_url
from .retrieval_dialects import (
    DEFAULT_EMBEDDING_DIALECT,
    EmbeddingDialect,
    get_embedding_dialect,
    infer_embedding_dialect,
)
from .retrieval_dialects.base import EmbeddingAnswer, EncodingFormat
from .service import DEFAULT_MAX_CONCURRENCY, BatchingClient, ServiceEngine, check_positive, check_texts


def resolve_embedding_dialect(
    endpoint: str | None, base_url: str | None, dialect: str | EmbeddingDialect | None
) -> EmbeddingDialect:
    """The named dialect, else the one an endpoint's path implies, else `openai` for a base_url."""
    if dialect:
        return get_embedding_dialect(dialect)
    if endpoint:
        inferred = infer_embedding_dialect(endpoint)
        if inferred is None:
            from .retrieval_dialects import EMBEDDING_DIALECTS

            raise ConfigurationError(
                f"cannot tell the embedding dialect of endpoint={endpoint.split('?')[0]!r} from its path "
                f"(…/embeddings is openai, …/embed is tei); pass dialect= one of: {', '.join(sorted(EMBEDDING_DIALECTS))}"
            )
        return inferred
    return get_embedding_dialect(DEFAULT_EMBEDDING_DIALECT)


class EmbeddingClient(BatchingClient):
    """A configured connection to one embedding route (OpenAI-style `/v1/embeddings` or TEI `/embed`).

    `batch_size` (default: the dialect's safe size, 32) caps the inputs per request;
    up to `max_concurrency` requests run at once. `truncate=True` asks the server to
    cut over-length inputs (its own option where it has one) and otherwise shortens
    them here; without it an over-length input raises `InputTooLongError` naming its
    index. `encoding_format="base64"` cuts a dense answer to about a quarter of its
    JSON size (and its parsing time far more) on servers that offer it.
    Connection options (`api_key`, `auth_scheme`, `token_provider`, timeouts,
    `max_retries`, `default_headers`, `verify`, `proxy`, `max_connections`) mean
    what they mean for `ChatClient`.
    """

    dialect: EmbeddingDialect
    _items_name = "texts"
    _batch_noun = "inputs"
    _too_long_text = "is longer than the embedding model accepts"

    def __init__(
        self,
        *,
        model: str | None = None,
        endpoint: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | EmbeddingDialect | None = None,
        batch_size: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        truncate: bool = False,
        dimensions: int | None = None,
        encoding_format: EncodingFormat = "float",
        model_kwargs: dict[str, Any] | None = None,
        **connection: Any,
    ) -> None:
        self.dialect = resolve_embedding_dialect(endpoint, base_url, dialect)
        check_positive("batch_size", batch_size)
        check_positive("max_concurrency", max_concurrency)
        check_positive("dimensions", dimensions)
        if encoding_format not in ("float", "base64"):
            raise ConfigurationError(f"encoding_format={encoding_format!r} must be 'float' or 'base64'")
        if encoding_format == "base64" and not self.dialect.supports_base64:
            raise ConfigurationError(f"encoding_format='base64': the {self.dialect.name!r} dialect answers floats only")
        if dimensions is not None and not self.dialect.supports_dimensions:
            raise ConfigurationError(f"dimensions={dimensions}: the {self.dialect.name!r} dialect has no such option")
        self.engine = ServiceEngine(self.dialect, kind="embedding", model=model, endpoint=endpoint,
                                    base_url=base_url, api_key=api_key, **connection)
        self.batch_size = batch_size or self.dialect.max_batch
        self.max_concurrency = max_concurrency
        self.truncate = truncate
        self.dimensions = dimensions
        self.encoding_format: EncodingFormat = encoding_format
        self.model_kwargs = dict(model_kwargs or {})

    def __repr__(self) -> str:
        return f"EmbeddingClient(model={self.model!r}, dialect={self.dialect.name!r}, url={redact_url(self.url)!r})"

    # ---- one request --------------------------------------------------------------------

    def _builder(self, texts: list[str]) -> Any:
        def build(headers: dict[str, str]) -> Any:
            return self.dialect.build_embed(
                texts, model=self.model, url=self.url, headers=headers, encoding_format=self.encoding_format,
                dimensions=self.dimensions, truncate=self.truncate and self.dialect.server_truncation,
                extra_body=self.model_kwargs,
            )

        return build

    def _vectors(self, body: Any, texts: list[str], offset: int) -> list[list[float]]:
        """The batch's vectors in input order, after every check."""
        try:
            answer: EmbeddingAnswer = self.dialect.parse_embed(body, encoding_format=self.encoding_format)
        except DomesticLLMError as exc:
            exc.url = exc.url or self.engine.url
            raise
        n = len(texts)
        if not answer.items:
            raise self.engine.malformed(
                f"HTTP 200 with no vectors for {n} input(s) (texts[{offset}:{offset + n}]): an empty answer is not a "
                "success. Servers do this when the input is not text (token-id arrays) or the model is not an "
                "embedding model."
            )
        if len(answer.items) != n:
            raise self.engine.malformed(
                f"{len(answer.items)} vectors for {n} inputs (texts[{offset}:{offset + n}])"
            )
        by_index: dict[int, list[float]] = {}
        for index, vector in answer.items:
            if not 0 <= index < n or index in by_index:
                raise self.engine.malformed(
                    f"vector index {index} is {'repeated' if index in by_index else 'out of range'} for a batch of {n}"
                )
            by_index[index] = vector
        vectors = [by_index[i] for i in range(n)]
        for i, vector in enumerate(vectors):
            where = f"the vector of texts[{offset + i}]"
            if not vector:
                raise self.engine.malformed(f"{where} is empty")
            if self.dimensions is not None and len(vector) != self.dimensions:
                raise self.engine.malformed(f"{where} has {len(vector)} dimensions, {self.dimensions} were asked for")
            if len(vector) != len(vectors[0]):
                raise self.engine.malformed(
                    f"{where} has {len(vector)} dimensions, texts[{offset}] has {len(vectors[0])}"
                )
            if not any(vector):
                raise self.engine.malformed(
                    f"{where} is all zeros: a decoding mismatch (e.g. base64 read with the wrong type) or a broken "
                    "model, not an embedding; refusing to return it"
                )
            if not math.isfinite(sum(vector)) and not all(math.isfinite(x) for x in vector):  # sum: the fast test
                raise self.engine.malformed(f"{where} contains NaN or infinity")
        return vectors

    def _embed_batch(self, offset: int, texts: list[str]) -> list[list[float]]:
        return self._vectors(self.engine.post(self._builder(texts)), texts, offset)

    async def _aembed_batch(self, offset: int, texts: list[str]) -> list[list[float]]:
        return self._vectors(await self.engine.apost(self._builder(texts)), texts, offset)

    # ---- public API ---------------------------------------------------------------------

    def _check_dimensions(self, vectors: list[list[float]]) -> list[list[float]]:
        if vectors:
            dim = len(vectors[0])
            for i, v in enumerate(vectors):
                if len(v) != dim:
                    raise self.engine.malformed(f"the vector of texts[{i}] has {len(v)} dimensions, texts[0] has {dim}")
        return vectors

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order. Batches run concurrently (threads) under `max_concurrency`."""
        items = check_texts(texts, "texts")
        return self._check_dimensions(self._run(self._embed_batch, items))

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, natively async; batches run concurrently under `max_concurrency`."""
        items = check_texts(texts, "texts")
        return self._check_dimensions(await self._arun(self._aembed_batch, items))

    def embed_one(self, text: str) -> list[float]:
        return self.embed([text])[0]

    async def aembed_one(self, text: str) -> list[float]:
        return (await self.aembed([text]))[0]
