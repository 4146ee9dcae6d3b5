"""Hugging Face text-embeddings-inference (TEI): `/embed` and `/rerank`.

TEI's own routes take `inputs` (embed) or `query` + `texts` (rerank) — not
`documents` — and answer bare JSON arrays: `[[…], …]` for embed and
`[{"index", "score"}, …]` sorted by score for rerank. Over-length inputs are
refused unless `truncate: true`; more inputs than `--max-client-batch-size`
(default 32) are refused with 413. Errors are `{"error": "…", "error_type": "…"}`.
"""

from __future__ import annotations

import re
from typing import Any

from ..dialects.base import ErrorInfo, HttpRequest
from ..errors import MalformedResponseError
from .base import (
    EmbeddingAnswer,
    EmbeddingDialect,
    EncodingFormat,
    RerankAnswer,
    RerankDialect,
    float_list,
    index_of,
    number,
)


def _tei_error(body: Any) -> ErrorInfo | None:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error_type = body.get("error_type")
        return ErrorInfo(code=error_type if isinstance(error_type, str) else None, message=body["error"])
    return None


class TEIEmbeddingDialect(EmbeddingDialect):
    name = "tei"
    chat_path = "/embed"
    path_pattern = re.compile(r"/embed/?$")
    server_truncation = True

    def build_embed(
        self,
        texts: list[str],
        *,
        model: str,
        url: str,
        headers: dict[str, str],
        encoding_format: EncodingFormat,
        dimensions: int | None,
        truncate: bool,
        extra_body: dict[str, Any],
    ) -> HttpRequest:
        # TEI serves one model and ignores `model`; base64 and dimensions do not exist here
        body: dict[str, Any] = {**extra_body, "inputs": list(texts)}
        if truncate:
            body["truncate"] = True
        return HttpRequest("POST", url, headers, body)

    def parse_embed(self, body: Any, *, encoding_format: EncodingFormat) -> EmbeddingAnswer:
        if not isinstance(body, list):
            raise MalformedResponseError(f"TEI /embed answer is not a list of vectors: {str(body)[:200]!r}")
        return EmbeddingAnswer([(i, float_list(v, f"[{i}]")) for i, v in enumerate(body)])

    def parse_error(self, status: int, body: Any) -> ErrorInfo:
        return _tei_error(body) or super().parse_error(status, body)


class TEIRerankDialect(RerankDialect):
    name = "tei"
    chat_path = "/rerank"
    # TEI serves /rerank at the server root; vLLM's root /rerank needs dialect="vllm_rerank"
    path_pattern = re.compile(r"^/rerank/?$")
    server_truncation = True

    def build_rerank(
        self,
        query: str,
        documents: list[str],
        *,
        model: str,
        url: str,
        headers: dict[str, str],
        truncate: bool,
        extra_body: dict[str, Any],
    ) -> HttpRequest:
        body: dict[str, Any] = {**extra_body, "query": query, "texts": list(documents), "raw_scores": False}
        if truncate:
            body["truncate"] = True
        return HttpRequest("POST", url, headers, body)

    def parse_rerank(self, body: Any) -> RerankAnswer:
        if not isinstance(body, list):
            raise MalformedResponseError(f"TEI /rerank answer is not a list of ranks: {str(body)[:200]!r}")
        items = []
        for pos, rank in enumerate(body):
            if not isinstance(rank, dict):
                raise MalformedResponseError(f"[{pos}]: expected an object, got {type(rank).__name__}")
            items.append((index_of(rank.get("index"), f"[{pos}].index"), number(rank.get("score"), f"[{pos}].score")))
        return RerankAnswer(items)

    def parse_error(self, status: int, body: Any) -> ErrorInfo:
        return _tei_error(body) or super().parse_error(status, body)
