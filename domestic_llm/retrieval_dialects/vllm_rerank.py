"""vLLM's Jina/Cohere-style rerank: `/rerank`, `/v1/rerank`, `/v2/rerank`.

`{"model", "query", "documents", "top_n"}` → `{"results": [{"index",
"relevance_score", "document"}], "usage": {"total_tokens"}}`. The client sends
no `top_n` (it batches documents and cuts after merging); truncation is
`truncate_prompt_tokens: -1`.
"""

from __future__ import annotations

import re
from typing import Any

from ..dialects.base import HttpRequest
from ..errors import MalformedResponseError
from .base import RerankAnswer, RerankDialect, index_of, number, usage_tokens, vllm_body


def parse_results(body: Any, score_key: str = "relevance_score") -> list[tuple[int, float]]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise MalformedResponseError(f"rerank answer has no `results` list: {str(body)[:200]!r}")
    items = []
    for pos, item in enumerate(results):
        where = f"results[{pos}]"
        if not isinstance(item, dict):
            raise MalformedResponseError(f"{where}: expected an object, got {type(item).__name__}")
        items.append((index_of(item.get("index"), where + ".index"), number(item.get(score_key), f"{where}.{score_key}")))
    return items


class VLLMRerankDialect(RerankDialect):
    name = "vllm_rerank"
    chat_path = "/rerank"
    path_pattern = re.compile(r"/v[12]/rerank/?$")
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
        body: dict[str, Any] = {**extra_body, "query": query, "documents": list(documents)}
        return HttpRequest("POST", url, headers, vllm_body(body, model, truncate))

    def parse_rerank(self, body: Any) -> RerankAnswer:
        return RerankAnswer(parse_results(body), usage_tokens(body, "total_tokens", "prompt_tokens"))
