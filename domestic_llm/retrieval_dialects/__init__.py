"""Embedding and rerank dialects: registries and inference of the dialect from an endpoint URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .base import (
    SAFE_BATCH_SIZE,
    EmbeddingAnswer,
    EmbeddingDialect,
    RerankAnswer,
    RerankDialect,
    decode_base64_floats,
)
from .openai import OpenAIEmbeddingDialect
from .tei import TEIEmbeddingDialect, TEIRerankDialect
from .vllm_rerank import VLLMRerankDialect
from .vllm_score import VLLMScoreDialect
from .xinference import XinferenceRerankDialect

EMBEDDING_DIALECTS: dict[str, EmbeddingDialect] = {
    d.name: d for d in (OpenAIEmbeddingDialect(), TEIEmbeddingDialect())
}
RERANK_DIALECTS: dict[str, RerankDialect] = {
    d.name: d for d in (VLLMRerankDialect(), VLLMScoreDialect(), TEIRerankDialect(), XinferenceRerankDialect())
}

#: the dialect a base_url gets when none is named
DEFAULT_EMBEDDING_DIALECT = "openai"
DEFAULT_RERANK_DIALECT = "vllm_rerank"


def _pick(registry: dict[str, EmbeddingDialect] | dict[str, RerankDialect], kind: str, name: str) -> object:
    try:
        return registry[name]
    except KeyError:
        raise ConfigurationError(f"dialect={name!r} is not a known {kind} dialect; use one of: {', '.join(sorted(registry))}") from None


def get_embedding_dialect(name: str | EmbeddingDialect) -> EmbeddingDialect:
    if isinstance(name, EmbeddingDialect):
        return name
    return _pick(EMBEDDING_DIALECTS, "embedding", name)  # type: ignore[return-value]


def get_rerank_dialect(name: str | RerankDialect) -> RerankDialect:
    if isinstance(name, RerankDialect):
        return name
    return _pick(RERANK_DIALECTS, "rerank", name)  # type: ignore[return-value]


def _infer(registry: dict[str, EmbeddingDialect] | dict[str, RerankDialect], url: str) -> object | None:
    path = urlsplit(url).path
    for dialect in registry.values():
        if dialect.path_pattern is not None and dialect.path_pattern.search(path):
            return dialect
    return None


def infer_embedding_dialect(url: str) -> EmbeddingDialect | None:
    """`openai` for a path ending in `/embeddings`, `tei` for `/embed`; `None` otherwise."""
    return _infer(EMBEDDING_DIALECTS, url)  # type: ignore[return-value]


def infer_rerank_dialect(url: str) -> RerankDialect | None:
    """`vllm_score` for `/score`, `vllm_rerank` for `/v1|v2/rerank`, `tei` for a root `/rerank`; else `None`."""
    return _infer(RERANK_DIALECTS, url)  # type: ignore[return-value]


__all__ = [
    "DEFAULT_EMBEDDING_DIALECT",
    "DEFAULT_RERANK_DIALECT",
    "EMBEDDING_DIALECTS",
    "RERANK_DIALECTS",
    "SAFE_BATCH_SIZE",
    "EmbeddingAnswer",
    "EmbeddingDialect",
    "RerankAnswer",
    "RerankDialect",
    "decode_base64_floats",
    "get_embedding_dialect",
    "get_rerank_dialect",
    "infer_embedding_dialect",
    "infer_rerank_dialect",
]
