"""vLLM's score API: `/score` and `/v1/score` (cross-encoders such as bge-reranker).

`{"model", "text_1": query, "text_2": [documents]}` → `{"data": [{"index",
"score"}], "usage"}`: one score per `text_2` entry against `text_1`.
"""

from __future__ import annotations

import re
from typing import Any

from ..dialects.base import HttpRequest
from ..errors import MalformedResponseError
from .base import RerankAnswer, RerankDialect, index_of, number, usage_tokens, vllm_body


class VLLMScoreDialect(RerankDialect):
    name = "vllm_score"
    chat_path = "/score"
    path_pattern = re.compile(r"/score/?$")
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
        body: dict[str, Any] = {**extra_body, "text_1": query, "text_2": list(documents)}
        return HttpRequest("POST", url, headers, vllm_body(body, model, truncate))

    def parse_rerank(self, body: Any) -> RerankAnswer:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise MalformedResponseError(f"score answer has no `data` list: {str(body)[:200]!r}")
        items = []
        for pos, item in enumerate(data):
            where = f"data[{pos}]"
            if not isinstance(item, dict):
                raise MalformedResponseError(f"{where}: expected an object, got {type(item).__name__}")
            items.append((index_of(item.get("index", pos), where + ".index"), number(item.get("score"), where + ".score")))
        return RerankAnswer(items, usage_tokens(body, "total_tokens", "prompt_tokens"))
