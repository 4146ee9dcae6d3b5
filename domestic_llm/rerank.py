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
from typing import Any

from .errors import ConfigurationError, DomesticLLMError, InputTooLongError, redact_url
from .retrieval_dialects import (
    DEFAULT_RERANK_DIALECT,
    RERANK_DIALECTS,
    RerankDialect,
    get_rerank_dialect,
    infer_rerank_dialect,
)
from .service import (
    _MAX_SHORTENINGS,
    DEFAULT_MAX_CONCURRENCY,
    ServiceEngine,
    arun_batches,
    batches,
    check_positive,
    check_texts,
    log,
    overload_kind,
    run_batches,
    shortened,
)


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


class RerankClient:
    """A configured connection to one rerank route (vLLM `/rerank` or `/score`, TEI `/rerank`, Xinference).

    `top_n` (default: all) is how many results `rerank` returns; `batch_size`
    (default 32) caps the documents per request, `max_concurrency` the requests
    at once; `truncate` and the connection options are as for `EmbeddingClient`.
    """

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

    @property
    def model(self) -> str:
        return self.engine.model

    @property
    def url(self) -> str:
        return self.engine.url

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

    def _on_refusal(self, exc: DomesticLLMError, documents: list[str], offset: int, attempt: int) -> str:
        kind = overload_kind(exc)
        if kind is None:
            raise exc
        if len(documents) > 1:
            if kind == "batch_limit" and len(documents) <= self.batch_size:
                self.batch_size = max(1, len(documents) // 2)
                log.warning("domestic_llm: %s refused %d documents per request; using batch_size=%d (%s)",
                            self.dialect.name, len(documents), self.batch_size, exc.server_message)
            return "split"
        if kind == "too_long" and self.truncate and attempt < _MAX_SHORTENINGS:
            return "shorten"
        if kind == "too_long":
            raise InputTooLongError(
                f"documents[{offset}] ({len(documents[0])} characters) with the query is longer than the rerank "
                "model accepts" + (f": {exc.server_message.rstrip('. ')}" if exc.server_message else "")
                + ". Shorten or split it, or pass truncate=True to have it cut.",
                index=offset, status=exc.status, code=exc.code, server_message=exc.server_message,
                request_id=exc.request_id, url=self.url,
            ) from exc
        raise exc

    def _part(self, query: str) -> Any:
        def work(offset: int, documents: list[str], attempt: int = 0) -> list[float]:
            try:
                return self._scores(self.engine.post(self._builder(query, documents)), documents, offset)
            except DomesticLLMError as exc:
                action, refusal = self._on_refusal(exc, documents, offset, attempt), exc
            if action == "shorten":
                short = shortened(documents[0], refusal)
                log.warning("domestic_llm: documents[%d] is too long for %s; truncated from %d to %d characters",
                            offset, self.dialect.name, len(documents[0]), len(short))
                return work(offset, [short], attempt + 1)
            mid = len(documents) // 2
            return work(offset, documents[:mid]) + work(offset + mid, documents[mid:])

        return work

    def _apart(self, query: str) -> Any:
        async def work(offset: int, documents: list[str], attempt: int = 0) -> list[float]:
            try:
                return self._scores(await self.engine.apost(self._builder(query, documents)), documents, offset)
            except DomesticLLMError as exc:
                action, refusal = self._on_refusal(exc, documents, offset, attempt), exc
            if action == "shorten":
                short = shortened(documents[0], refusal)
                log.warning("domestic_llm: documents[%d] is too long for %s; truncated from %d to %d characters",
                            offset, self.dialect.name, len(documents[0]), len(short))
                return await work(offset, [short], attempt + 1)
            mid = len(documents) // 2
            return await work(offset, documents[:mid]) + await work(offset + mid, documents[mid:])

        return work

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
        scores = run_batches(self._part(query), batches(items, self.batch_size), self.max_concurrency)
        return self._ranked(items, scores, top_n)

    async def arerank(self, query: str, documents: Sequence[str], top_n: int | None = None) -> list[RerankResult]:
        """`rerank`, natively async."""
        items, top_n = self._check(query, documents, top_n)
        if not items:
            return []
        scores = await arun_batches(self._apart(query), batches(items, self.batch_size), self.max_concurrency)
        return self._ranked(items, scores, top_n)

    def close(self) -> None:
        self.engine.close()

    async def aclose(self) -> None:
        await self.engine.aclose()
