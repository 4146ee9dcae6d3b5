"""The embedding / rerank dialect interface: pure translation, like the chat dialects.

An embedding dialect turns a batch of texts into an `HttpRequest` and the
server's JSON answer into `(index, vector)` pairs; a rerank dialect does the
same for a query and its documents, answering `(index, score)` pairs. Checking
those pairs against the inputs (count, order, dimension, all-zero vectors) is
the client's job, done once for every dialect.

They subclass the chat `Dialect` for what is the same on every route: the
name, how the key is sent (`auth_headers`), how an error body is read
(`parse_error`), and `chat_path` — the path appended to a `base_url` (the
name comes from the chat side; here it is the embedding or rerank route).
"""

from __future__ import annotations

import base64
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..dialects.base import Dialect, HttpRequest
from ..errors import MalformedResponseError

EncodingFormat = Literal["float", "base64"]

#: batch size that every server this package knows accepts: TEI's default
#: MAX_CLIENT_BATCH_SIZE is 32, llama.cpp serves 32 inputs per request by default
SAFE_BATCH_SIZE = 32


@dataclass(slots=True)
class EmbeddingAnswer:
    """One batch's answer: `(index within the batch, vector)` pairs as the server sent them."""

    items: list[tuple[int, list[float]]]
    prompt_tokens: int | None = None


@dataclass(slots=True)
class RerankAnswer:
    """One batch's answer: `(index within the batch, score)` pairs as the server sent them."""

    items: list[tuple[int, float]]
    total_tokens: int | None = None


class _RouteDialect(Dialect):
    """What embedding and rerank dialects share beyond the chat `Dialect`."""

    def models_requests(self, url: str) -> list[HttpRequest]:
        """`GET …/models` next to the route (`…/v1/embeddings` → `…/v1/models`), for "model not found" hints."""
        base = url.split("?", 1)[0].rstrip("/")
        if self.chat_path and base.endswith(self.chat_path):
            base = base[: -len(self.chat_path)]
        return [HttpRequest("GET", base + "/models", {"Accept": "application/json"})]


class EmbeddingDialect(_RouteDialect):
    """Base of the embedding dialects; subclasses set the class attributes and the two hooks."""

    kind: ClassVar[str] = "embeddings"
    #: the route as a full endpoint URL's path ends (for inference); `chat_path` is what a base_url gets
    path_pattern: ClassVar[re.Pattern[str] | None] = None
    max_batch: ClassVar[int] = SAFE_BATCH_SIZE
    #: the server has a request option that truncates over-length inputs
    server_truncation: ClassVar[bool] = False
    supports_base64: ClassVar[bool] = False
    supports_dimensions: ClassVar[bool] = False

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
    ) -> HttpRequest:  # pragma: no cover - interface
        raise NotImplementedError

    def parse_embed(self, body: Any, *, encoding_format: EncodingFormat) -> EmbeddingAnswer:  # pragma: no cover
        raise NotImplementedError


class RerankDialect(_RouteDialect):
    """Base of the rerank dialects."""

    kind: ClassVar[str] = "rerank"
    path_pattern: ClassVar[re.Pattern[str] | None] = None
    max_batch: ClassVar[int] = SAFE_BATCH_SIZE
    server_truncation: ClassVar[bool] = False

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
    ) -> HttpRequest:  # pragma: no cover - interface
        raise NotImplementedError

    def parse_rerank(self, body: Any) -> RerankAnswer:  # pragma: no cover
        raise NotImplementedError


# ---- shared readers (shape-safe: a wrong shape is a MalformedResponseError, never a KeyError) ----


def vllm_body(body: dict[str, Any], model: str, truncate: bool) -> dict[str, Any]:
    """vLLM's pooling routes: the model first when named (a single-model server needs none; an empty
    name would be "model not found"), and server-side truncation as `truncate_prompt_tokens=-1`."""
    if model:
        body = {"model": model, **body}
    if truncate:
        body["truncate_prompt_tokens"] = -1
    return body


def decode_base64_floats(text: str, where: str) -> list[float]:
    """A base64 string of little-endian float32 values (what OpenAI-style servers send) as floats.

    Decoding these bytes as anything else (float64, big-endian, text) gives garbage or
    zeros without an error; a length that is not a multiple of 4 is reported.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise MalformedResponseError(f"{where}: the embedding is not valid base64 ({exc})") from None
    if len(raw) % 4:
        raise MalformedResponseError(
            f"{where}: base64 embedding of {len(raw)} bytes is not a whole number of float32 values"
        )
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def float_list(value: Any, where: str) -> list[float]:
    """A JSON array of numbers as a list of floats; anything else is reported."""
    if not isinstance(value, list):
        raise MalformedResponseError(f"{where}: expected a list of numbers, got {type(value).__name__}")
    if all(type(x) is float for x in value):  # what json.loads gives for real vectors: no copy
        return value
    out: list[float] = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise MalformedResponseError(f"{where}: expected numbers, got {x!r}")
        out.append(float(x))
    return out


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MalformedResponseError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def index_of(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponseError(f"{where}: expected an integer index, got {value!r}")
    return value


def usage_tokens(body: Any, *keys: str) -> int | None:
    """`body["usage"][key]` for the first key present, as an int; `None` when absent."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if isinstance(usage, dict):
        for key in keys:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None
