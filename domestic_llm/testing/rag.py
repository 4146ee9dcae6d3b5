"""The emulator's embedding, rerank and tokenize routes, with the faults real servers show.

Routes (all POST):

| path | speaks |
|---|---|
| `/v1/embeddings` | OpenAI-style (vLLM, llama.cpp, …): `float` or `base64`, `dimensions`, `truncate_prompt_tokens` |
| `/embed` | TEI |
| `/rerank` | TEI (`query` + `texts`) |
| `/v1/rerank`, `/v2/rerank` | vLLM (`documents`); Xinference's answer shape when the request has `return_documents` |
| `/score`, `/v1/score` | vLLM score (`text_1`, `text_2`) |
| `/tokenize` | vLLM / SGLang (`prompt` or `messages`); llama.cpp's `content` is read too |

Deterministic by construction: one token per character; a text's vector is its
characters and character bigrams hashed into `dim` signed buckets and
L2-normalised (`embedding_of`), so texts sharing words are close; a document's
score is the share of the query's characters and bigrams it contains
(`relevance_score`). Tests compute expected answers with these functions.

Faults (on `emulator.state.rag`, reset before each test): `max_batch` inputs per
request (TEI's default 32) else 413; `max_input_tokens` per input else a 400
(vLLM's message) or, with `overlength_status=500`, llama.cpp's bare 500;
token-id arrays get HTTP 200 with an empty `data` (what vLLM answers);
`empty_data` and `zero_vectors` break every answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from .serving import credential_at

DEFAULT_DIM = 64
MAX_MODEL_LEN = 512
# ChatML special tokens (Qwen's ids), one token each in the emulated chat template
IM_START, IM_END = 151644, 151645
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass
class RagState:
    """Knobs of the emulated embedding / rerank servers."""

    dim: int = DEFAULT_DIM
    max_batch: int | None = 32
    max_input_tokens: int = MAX_MODEL_LEN
    overlength_status: int = 400  # 400: vLLM's message; 500: llama.cpp's "input is too large to process"
    empty_data: bool = False
    zero_vectors: bool = False
    tokenize: bool = True  # False: /tokenize answers 404, like servers without it
    delay: float = 0.0  # seconds each answer takes (lets concurrent requests overlap)
    in_flight: int = 0  # requests being answered now, and the most at any moment
    max_in_flight: int = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


# ---- the deterministic "models" ---------------------------------------------------------


def grams(text: str) -> list[str]:
    """Word characters and adjacent-character bigrams (the emulated models' features)."""
    chars = [c.lower() for c in text if _WORD.match(c)]
    return chars + [a + b for a, b in zip(chars, chars[1:])]


def embedding_of(text: str, dim: int = DEFAULT_DIM) -> list[float]:
    """The emulator's vector for `text`: hashed signed features, L2-normalised (never all zero)."""
    vector = [0.0] * dim
    features = grams(text) or [text]
    for g in features:
        h = zlib.crc32(g.encode("utf-8"))
        vector[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    if not any(vector):  # features cancelled out: fall back to the whole text's bucket
        vector[zlib.crc32(text.encode("utf-8")) % dim] = 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def relevance_score(query: str, document: str) -> float:
    """The share of the query's characters and bigrams found in the document, in [0, 1]."""
    q = set(grams(query))
    if not q:
        return 0.0
    return round(len(q & set(grams(document))) / len(q), 6)


def token_ids(text: str) -> list[int]:
    """One token per character: its code point."""
    return [ord(c) for c in text]


def chat_template_ids(messages: list[dict[str, Any]], add_generation_prompt: bool) -> list[int]:
    """ChatML as Qwen's template renders it: `<|im_start|>role\\ncontent<|im_end|>\\n` per message."""
    ids: list[int] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        ids += [IM_START, *token_ids(str(m.get("role", ""))), ord("\n"), *token_ids(str(content or "")), IM_END,
                ord("\n")]
    if add_generation_prompt:
        ids += [IM_START, *token_ids("assistant"), ord("\n")]
    return ids


# ---- routes -------------------------------------------------------------------------------


def rag_routes(state: Any) -> list[Any]:
    """Starlette routes serving embeddings, rerank and tokenize on the emulator's `state`."""
    from starlette.routing import Route

    state.rag = rag = RagState()
    return [Route(path, _endpoint(state, rag, style, answer), methods=["POST"]) for path, style, answer in _ROUTES]


def _endpoint(state: Any, rag: RagState, style: str, answer: Any) -> Any:
    """Record, apply status faults and auth, parse JSON, then `answer(state, rag, body)`."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    from .emulator import RecordedRequest

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        state.requests.append(RecordedRequest(request.method, request.url.path, dict(request.headers), body,
                                              (request.client.host, request.client.port) if request.client else None))
        state.counter += 1
        refusal = _refusal(state, style, request, body)
        if refusal is not None:
            return refusal
        rag.in_flight += 1
        rag.max_in_flight = max(rag.max_in_flight, rag.in_flight)
        try:
            if rag.delay:
                await asyncio.sleep(rag.delay)
            response = answer(state, rag, body)
        finally:
            rag.in_flight -= 1
        if isinstance(response, Response):
            return response
        return JSONResponse(response, headers={"X-Request-Id": f"emu-req-{state.counter}"})

    return endpoint


def _refusal(state: Any, style: str, request: Any, body: Any) -> Any:
    """The answer to a request refused before its route sees it (status fault, no key, no JSON object), else None."""
    from starlette.responses import JSONResponse

    from .emulator import _take_fault

    fault = _take_fault(state)
    if fault is not None and fault.status is not None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        if fault.body is not None:
            return JSONResponse(fault.body, fault.status, headers=headers)
        if style == "tei":
            return JSONResponse({"error": f"emulated failure {fault.status}", "error_type": "Backend"},
                                fault.status, headers=headers)
        return JSONResponse({"object": "error", "message": f"emulated failure {fault.status}",
                             "type": "emulated_fault", "param": None, "code": fault.status},
                            fault.status, headers=headers)
    if state.api_key is not None and not _authorized(request, state):
        if style == "tei":
            return _tei_error(401, "Unauthorized", "Unhealthy")
        return _vllm_error(401, "Unauthorized")
    if not isinstance(body, dict):
        return (_tei_error if style == "tei" else _vllm_error)(422, "request body is not a JSON object")
    return None


def _vllm_error(status: int, message: str) -> Any:
    from starlette.responses import JSONResponse

    kind = "BadRequestError" if status < 500 else "InternalServerError"
    return JSONResponse({"object": "error", "message": message, "type": kind, "param": None, "code": status}, status)


def _tei_error(status: int, message: str, error_type: str = "Validation") -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message, "error_type": error_type}, status)


def _too_many(rag: RagState, n: int) -> str | None:
    if rag.max_batch is not None and n > rag.max_batch:
        return f"batch size {n} > maximum allowed batch size {rag.max_batch}"
    return None


def _vector(rag: RagState, text: str, dimensions: int | None = None) -> list[float]:
    if rag.zero_vectors:
        return [0.0] * (dimensions or rag.dim)
    v = embedding_of(text, rag.dim)
    if dimensions:  # Matryoshka-style: the first components, renormalised
        v = v[:dimensions]
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        v = [x / norm for x in v]
    return v


# -- OpenAI-style /v1/embeddings (vLLM; llama.cpp's 500 with overlength_status=500)
def _openai_embeddings(state: Any, rag: RagState, body: dict[str, Any]) -> Any:
    from starlette.responses import JSONResponse

    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs:
        return _vllm_error(400, "input must be a string or a non-empty list of strings")
    if any(not isinstance(x, str) for x in inputs):  # token-id arrays: vLLM answers HTTP 200 with nothing in it
        return {"object": "list", "data": [], "model": body.get("model"),
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}
    problem = _too_many(rag, len(inputs))
    if problem:
        return _vllm_error(400, problem)
    truncate = body.get("truncate_prompt_tokens")
    texts = []
    for text in inputs:
        if len(text) > rag.max_input_tokens:
            if truncate == -1 or (isinstance(truncate, int) and 0 < truncate <= rag.max_input_tokens):
                text = text[: rag.max_input_tokens if truncate == -1 else truncate]
            elif rag.overlength_status >= 500:
                return JSONResponse({"error": {"code": 500, "message": "input is too large to process. increase "
                                               "the physical batch size", "type": "server_error"}}, 500)
            else:
                return _vllm_error(400, f"This model's maximum context length is {rag.max_input_tokens} tokens. "
                                        f"However, you requested {len(text)} tokens in the input for embedding "
                                        "generation. Please reduce the length of the input.")
        texts.append(text)
    dimensions = body.get("dimensions") if isinstance(body.get("dimensions"), int) else None
    data = []
    for i, text in enumerate(texts):
        v = _vector(rag, text, dimensions)
        emb: Any = (base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode("ascii")
                    if body.get("encoding_format") == "base64" else v)
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = sum(len(t) for t in texts)
    if rag.empty_data:
        data = []
    return {"id": f"embd-emu-{state.counter}", "object": "list", "created": 1745725837,
            "model": body.get("model"), "data": data, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


# -- TEI /embed and /rerank
def _tei_texts(rag: RagState, body: dict[str, Any], key: str) -> Any:
    inputs = body.get(key)
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs or any(not isinstance(x, str) for x in inputs):
        return _tei_error(422, f"`{key}` must be a string or a non-empty list of strings", "Tokenizer")
    problem = _too_many(rag, len(inputs))
    if problem:
        return _tei_error(413, problem)
    out = []
    for text in inputs:
        if len(text) > rag.max_input_tokens:
            if not body.get("truncate"):
                return _tei_error(413, f"Input validation error: `inputs` must have less than "
                                       f"{rag.max_input_tokens} tokens. Given: {len(text)}")
            text = text[: rag.max_input_tokens]
        out.append(text)
    return out


def _tei_embed(state: Any, rag: RagState, body: dict[str, Any]) -> Any:
    texts = _tei_texts(rag, body, "inputs")
    if not isinstance(texts, list):
        return texts
    return [] if rag.empty_data else [_vector(rag, t) for t in texts]


def _tei_rerank(state: Any, rag: RagState, body: dict[str, Any]) -> Any:
    query = body.get("query")
    if not isinstance(query, str):
        return _tei_error(422, "`query` must be a string", "Tokenizer")
    texts = _tei_texts(rag, body, "texts")
    if not isinstance(texts, list):
        return texts
    ranks: list[dict[str, Any]] = [{"index": i, "score": relevance_score(query, t)} for i, t in enumerate(texts)]
    ranks.sort(key=lambda r: -r["score"])
    return [] if rag.empty_data else ranks


# -- vLLM /rerank (Xinference's shape when asked with return_documents) and /score
def _documents_of(rag: RagState, body: dict[str, Any], key: str) -> Any:
    docs = body.get(key)
    docs = [docs] if isinstance(docs, str) else docs
    if not isinstance(docs, list) or not docs or any(not isinstance(d, str) for d in docs):
        return _vllm_error(400, f"{key} must be a non-empty list of strings")
    problem = _too_many(rag, len(docs))
    if problem:
        return _vllm_error(400, problem)
    truncate = body.get("truncate_prompt_tokens")
    out = []
    for doc in docs:
        if len(doc) > rag.max_input_tokens:
            if truncate != -1:
                return _vllm_error(400, f"This model's maximum context length is {rag.max_input_tokens} tokens. "
                                        f"However, you requested {len(doc)} tokens in the input for score. "
                                        "Please reduce the length of the input.")
            doc = doc[: rag.max_input_tokens]
        out.append(doc)
    return out


def _vllm_rerank(state: Any, rag: RagState, body: dict[str, Any]) -> Any:
    query = body.get("query")
    if not isinstance(query, str):
        return _vllm_error(400, "query must be a string")
    docs = _documents_of(rag, body, "documents")
    if not isinstance(docs, list):
        return docs
    results: list[dict[str, Any]] = [{"index": i, "relevance_score": relevance_score(query, d),
                                      "document": {"text": d}} for i, d in enumerate(docs)]
    results.sort(key=lambda r: -r["relevance_score"])
    top_n = body.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        results = results[:top_n]
    if rag.empty_data:
        results = []
    tokens = sum(len(query) + len(d) for d in docs)
    if "return_documents" in body:  # Xinference
        if not body["return_documents"]:
            for r in results:
                r["document"] = None
        return {"id": f"rerank-emu-{state.counter}", "results": results,
                "meta": {"api_version": None, "billed_units": None,
                         "tokens": {"input_tokens": tokens, "output_tokens": tokens}, "warnings": None}}
    return {"id": f"rerank-emu-{state.counter}", "model": body.get("model"), "usage": {"total_tokens": tokens},
            "results": results}


def _vllm_score(state: Any, rag: RagState, body: dict[str, Any]) -> Any:
    query = body.get("text_1")
    if not isinstance(query, str):
        return _vllm_error(400, "text_1 must be a string")
    docs = _documents_of(rag, body, "text_2")
    if not isinstance(docs, list):
        return docs
    data = [] if rag.empty_data else [
        {"index": i, "object": "score", "score": relevance_score(query, d)} for i, d in enumerate(docs)
    ]
    tokens = sum(len(query) + len(d) for d in docs)
    return {"id": f"score-emu-{state.counter}", "object": "list", "created": 1745725837,
            "model": body.get("model"), "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}}


# -- /tokenize (vLLM / SGLang body; llama.cpp's `content` too)
def _tokenize(state: Any, rag: RagState, body: dict[str, Any]) -> Any:
    from starlette.responses import JSONResponse

    if not rag.tokenize:
        return JSONResponse({"detail": "Not Found"}, 404)
    messages = body.get("messages")
    if isinstance(messages, list):
        if any(not isinstance(m, dict) for m in messages):
            return _vllm_error(400, "messages must be a list of objects")
        ids = chat_template_ids(messages, bool(body.get("add_generation_prompt", True)))
    else:
        text = body.get("prompt", body.get("content"))
        if not isinstance(text, str):
            return _vllm_error(400, "prompt must be a string")
        ids = token_ids(text)
    return {"count": len(ids), "max_model_len": 32768, "tokens": ids}


#: path, error style ("tei" or "vllm": the shape of refusals), answer(state, rag, body) -> JSON-able or a Response
_ROUTES = (
    ("/v1/embeddings", "vllm", _openai_embeddings),
    ("/embed", "tei", _tei_embed),
    ("/rerank", "tei", _tei_rerank),
    ("/v1/rerank", "vllm", _vllm_rerank),
    ("/v2/rerank", "vllm", _vllm_rerank),
    ("/score", "vllm", _vllm_score),
    ("/v1/score", "vllm", _vllm_score),
    ("/tokenize", "vllm", _tokenize),
)


def _authorized(request: Any, state: Any) -> bool:
    """The key where the emulator expects it: `state.auth_location`, else a Bearer header."""
    if state.auth_location is not None:
        return credential_at(request, state.auth_location) == state.api_key
    return request.headers.get("authorization") == f"Bearer {state.api_key}"
