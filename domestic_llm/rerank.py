"""`RerankClient`: relevance scores of documents against a query, from a private reranker.

```python
client = RerankClient(model="bge-reranker-v2-m3", base_url="http://10.0.0.5:8000/v1")  # vLLM /v1/rerank
client = RerankClient(endpoint="http://10.0.0.6:8081/rerank")                           # TEI
for hit in client.rerank("长江有多长？", documents, top_n=3):
    print(hit.index, hit.score, hit.document)
```

Documents are sent in batches (TEI refuses more than its client batch size)
and their scores merged; every answer must score each document exactly once.
The result is sorted by score, best first (ties keep input order), and cut to
`top_n` here — so it is the same whatever the server does with `top_n`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .errors import ConfigurationError, DomesticLLMError, redact_url
from .retrieval_dialects import (
    DEFAULT_RERANK_DIALECT,
    RERANK_DIALECTS,
    RerankDialect,
    get_rerank_dialect,
    infer_rerank_dialect,
)
from .service import DEFAULT_MAX_CONCURRENCY, BatchingClient, ServiceEngine, check_positive, check_texts


@dataclass(slots=True, frozen=True)
class RerankResult:
    """One scored document: its position in the input, the server's score, and the text."""

    index: int
    score: float
    document: str


def resolve_rerank_dialect(endpoint: str | None, base_url: str | None, dialect: str | RerankDialect | None) -> RerankDialect:
    """The named dialect, else the one an endpoint's path implies, else `vllm_rerank` for a base_url."""
    if dialect:
        return get_rerank_dialect(dialect)
    if endpoint:
        inferred = infer_rerank_dialect(endpoint)
        if inferred is None:
            raise ConfigurationError(
                f"cannot tell the rerank dialect of endpoint={endpoint.split('?')[0]!r} from its path (/v1/rerank is "
                f"vllm_rerank, a root /rerank is tei, /score is vllm_score); pass dialect= one of: "
                f"{', '.join(sorted(RERANK_DIALECTS))}"
            )
        return inferred
    return get_rerank_dialect(DEFAULT_RERANK_DIALECT)


class RerankClient(BatchingClient):
    """A configured connection to one rerank route (vLLM `/rerank` or `/score`, TEI `/rerank`, Xinference).

    `top_n` (default: all) is how many results `rerank` returns; `batch_size`
    (default 32) caps the documents per request, `max_concurrency` the requests
    at once; `truncate` and the connection options are as for `EmbeddingClient`.
    """

    dialect: RerankDialect
    _items_name = "documents"
    _batch_noun = "documents"
    _too_long_text = "with the query is longer than the rerank model accepts"

    def __init__(
        self,
        *,
        model: str | None = None,
        endpoint: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | RerankDialect | None = None,
        top_n: int | None = None,
        batch_size: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        truncate: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        **connection: Any,
    ) -> None:
        self.dialect = resolve_rerank_dialect(endpoint, base_url, dialect)
        check_positive("top_n", top_n)
        check_positive("batch_size", batch_size)
        check_positive("max_concurrency", max_concurrency)
        self.engine = ServiceEngine(self.dialect, kind="rerank", model=model, endpoint=endpoint, base_url=base_url,
                                    api_key=api_key, **connection)
        self.top_n = top_n
        self.batch_size = batch_size or self.dialect.max_batch
        self.max_concurrency = max_concurrency
        self.truncate = truncate
        self.model_kwargs = dict(model_kwargs or {})

    def __repr__(self) -> str:
        return f"RerankClient(model={self.model!r}, dialect={self.dialect.name!r}, url={redact_url(self.url)!r})"

    def _builder(self, query: str, documents: list[str]) -> Any:
        def build(headers: dict[str, str]) -> Any:
            return self.dialect.build_rerank(
                query, documents, model=self.model, url=self.url, headers=headers,
                truncate=self.truncate and self.dialect.server_truncation, extra_body=self.model_kwargs,
            )

        return build

    def _scores(self, body: Any, documents: list[str], offset: int) -> list[float]:
        try:
            answer = self.dialect.parse_rerank(body)
        except DomesticLLMError as exc:
            exc.url = exc.url or self.engine.url
            raise
        n = len(documents)
        if not answer.items:
            raise self.engine.malformed(
                f"HTTP 200 with no scores for {n} document(s) (documents[{offset}:{offset + n}]): an empty answer is "
                "not a success (is the model a reranker / cross-encoder?)"
            )
        scores: dict[int, float] = {}
        for index, score in answer.items:
            if not 0 <= index < n or index in scores:
                raise self.engine.malformed(
                    f"score index {index} is {'repeated' if index in scores else 'out of range'} for {n} documents"
                )
            scores[index] = score
        if len(scores) != n:
            missing = [offset + i for i in range(n) if i not in scores]
            raise self.engine.malformed(f"{len(scores)} scores for {n} documents; no score for documents{missing[:10]}")
        return [scores[i] for i in range(n)]

    def _score_batch(self, query: str, offset: int, documents: list[str]) -> list[float]:
        return self._scores(self.engine.post(self._builder(query, documents)), documents, offset)

    async def _ascore_batch(self, query: str, offset: int, documents: list[str]) -> list[float]:
        return self._scores(await self.engine.apost(self._builder(query, documents)), documents, offset)

    def _check(self, query: str, documents: Sequence[str], top_n: int | None) -> tuple[list[str], int | None]:
        if not isinstance(query, str) or not query.strip():
            raise ConfigurationError(f"query={query!r} must be a non-empty string")
        check_positive("top_n", top_n)
        return check_texts(documents, "documents"), top_n if top_n is not None else self.top_n

    @staticmethod
    def _ranked(documents: list[str], scores: list[float], top_n: int | None) -> list[RerankResult]:
        order = sorted(range(len(documents)), key=lambda i: -scores[i])  # stable: ties keep input order
        return [RerankResult(i, scores[i], documents[i]) for i in order[:top_n]]

    def rerank(self, query: str, documents: Sequence[str], top_n: int | None = None) -> list[RerankResult]:
        """The documents scored against `query`, best first, at most `top_n` (default: the client's)."""
        items, top_n = self._check(query, documents, top_n)
        if not items:
            return []
        scores = self._run(partial(self._score_batch, query), items)
        return self._ranked(items, scores, top_n)

    async def arerank(self, query: str, documents: Sequence[str], top_n: int | None = None) -> list[RerankResult]:
        """`rerank`, natively async."""
        items, top_n = self._check(query, documents, top_n)
        if not items:
            return []
        scores = await self._arun(partial(self._ascore_batch, query), items)
        return self._ranked(items, scores, top_n)
