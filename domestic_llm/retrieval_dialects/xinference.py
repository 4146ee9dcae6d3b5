"""Xinference's `/v1/rerank`.

Same request shape as vLLM's rerank plus `return_documents` (asked off: the
client has the documents); token counts live in `meta.tokens.input_tokens`
instead of `usage`. There is no truncation option: the model's own
`max_length` applies, so `truncate=True` shortens over-length documents on
the client.
"""

from __future__ import annotations

from typing import Any

from ..dialects.base import HttpRequest
from .base import RerankAnswer, RerankDialect
from .vllm_rerank import parse_results


class XinferenceRerankDialect(RerankDialect):
    name = "xinference"
    chat_path = "/rerank"
    path_pattern = None  # /v1/rerank is inferred as vllm_rerank: both read the same request

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
        body: dict[str, Any] = {**extra_body, "query": query, "documents": list(documents), "return_documents": False}
        if model:  # a single-model server needs none; an empty name would be "model not found"
            body = {"model": model, **body}
        return HttpRequest("POST", url, headers, body)

    def parse_rerank(self, body: Any) -> RerankAnswer:
        tokens = None
        meta = body.get("meta") if isinstance(body, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("tokens"), dict):
            value = meta["tokens"].get("input_tokens")
            tokens = value if isinstance(value, int) else None
        return RerankAnswer(parse_results(body), tokens)
