"""OpenAI-style `/v1/embeddings`: vLLM, SGLang, MindIE, llama.cpp, Xinference, TEI's OpenAI route.

Always sends text: `OpenAIEmbeddings` sends token-id arrays by default, which
vLLM and others answer with HTTP 200 and an empty `data`. `encoding_format`
is sent explicitly (`float`, or `base64` = little-endian float32), since some
servers default to one and some to the other. Truncation uses vLLM's
`truncate_prompt_tokens: -1` (cut to the model's maximum length).
"""

from __future__ import annotations

import re
from typing import Any

from ..dialects.base import HttpRequest
from ..errors import MalformedResponseError
from .base import EmbeddingAnswer, EmbeddingDialect, EncodingFormat, decode_base64_floats, float_list, index_of, usage_tokens


class OpenAIEmbeddingDialect(EmbeddingDialect):
    name = "openai"
    chat_path = "/embeddings"
    path_pattern = re.compile(r"/embeddings/?$")
    server_truncation = True
    supports_base64 = True
    supports_dimensions = True

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
        body: dict[str, Any] = {**extra_body, "input": list(texts), "encoding_format": encoding_format}
        if model:  # a single-model server needs none; an empty name would be "model not found"
            body = {"model": model, **body}
        if dimensions is not None:
            body["dimensions"] = dimensions
        if truncate:
            body["truncate_prompt_tokens"] = -1
        return HttpRequest("POST", url, headers, body)

    def parse_embed(self, body: Any, *, encoding_format: EncodingFormat) -> EmbeddingAnswer:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise MalformedResponseError(f"embeddings answer has no `data` list: {str(body)[:200]!r}")
        items: list[tuple[int, list[float]]] = []
        for pos, item in enumerate(data):
            where = f"data[{pos}]"
            if not isinstance(item, dict):
                raise MalformedResponseError(f"{where}: expected an object, got {type(item).__name__}")
            index = index_of(item.get("index", pos), where + ".index")
            emb = item.get("embedding")
            # the server may answer float when base64 was asked (or the reverse): read what came
            vector = decode_base64_floats(emb, where) if isinstance(emb, str) else float_list(emb, where + ".embedding")
            items.append((index, vector))
        return EmbeddingAnswer(items, usage_tokens(body, "prompt_tokens", "total_tokens"))
