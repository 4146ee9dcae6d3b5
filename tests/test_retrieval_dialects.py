"""Embedding and rerank dialects as pure translation: request shapes, answer parsing, inference."""

from __future__ import annotations

import base64
import struct

import pytest

from domestic_llm.errors import ConfigurationError, MalformedResponseError
from domestic_llm.retrieval_dialects import (
    decode_base64_floats,
    get_embedding_dialect,
    get_rerank_dialect,
    infer_embedding_dialect,
    infer_rerank_dialect,
)

H = {"Authorization": "Bearer k"}


def embed_body(name: str, **kw):
    args = {"model": "bge-m3", "url": "http://h/x", "headers": H, "encoding_format": "float", "dimensions": None,
            "truncate": False, "extra_body": {}}
    args.update(kw)
    return get_embedding_dialect(name).build_embed(["长江", "黄河"], **args).json


def rerank_body(name: str, **kw):
    args = {"model": "bge-reranker", "url": "http://h/x", "headers": H, "truncate": False, "extra_body": {}}
    args.update(kw)
    return get_rerank_dialect(name).build_rerank("长江有多长", ["长江6300公里", "黄河"], **args).json


def test_openai_embedding_request_sends_text_and_explicit_encoding():
    assert embed_body("openai") == {"model": "bge-m3", "input": ["长江", "黄河"], "encoding_format": "float"}
    body = embed_body("openai", encoding_format="base64", dimensions=256, truncate=True, extra_body={"user": "u"})
    assert body == {"user": "u", "model": "bge-m3", "input": ["长江", "黄河"], "encoding_format": "base64",
                    "dimensions": 256, "truncate_prompt_tokens": -1}


def test_tei_requests_use_inputs_and_texts():
    assert embed_body("tei") == {"inputs": ["长江", "黄河"]}
    assert embed_body("tei", truncate=True) == {"inputs": ["长江", "黄河"], "truncate": True}
    assert rerank_body("tei") == {"query": "长江有多长", "texts": ["长江6300公里", "黄河"], "raw_scores": False}
    assert rerank_body("tei", truncate=True)["truncate"] is True


def test_vllm_rerank_score_and_xinference_requests():
    assert rerank_body("vllm_rerank") == {"model": "bge-reranker", "query": "长江有多长",
                                          "documents": ["长江6300公里", "黄河"]}
    assert rerank_body("vllm_rerank", truncate=True)["truncate_prompt_tokens"] == -1
    assert rerank_body("vllm_score") == {"model": "bge-reranker", "text_1": "长江有多长",
                                         "text_2": ["长江6300公里", "黄河"]}
    assert rerank_body("xinference") == {"model": "bge-reranker", "query": "长江有多长",
                                         "documents": ["长江6300公里", "黄河"], "return_documents": False}


def test_openai_embedding_answer_float_and_base64_by_index():
    d = get_embedding_dialect("openai")
    packed = base64.b64encode(struct.pack("<3f", 0.5, -0.25, 1.0)).decode()
    body = {"data": [{"index": 1, "embedding": [1, 2.5]}, {"index": 0, "embedding": packed}],
            "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    answer = d.parse_embed(body, encoding_format="base64")
    assert answer.items == [(1, [1.0, 2.5]), (0, [0.5, -0.25, 1.0])]
    assert answer.prompt_tokens == 7


def test_base64_is_little_endian_float32():
    # the classic mismatch: the same bytes read as float64 or big-endian are garbage
    values = [0.1, -2.0, 3.5]
    text = base64.b64encode(struct.pack("<3f", *values)).decode()
    assert decode_base64_floats(text, "x") == pytest.approx(values, rel=1e-6)
    with pytest.raises(MalformedResponseError, match="not a whole number of float32"):
        decode_base64_floats(base64.b64encode(b"12345").decode(), "data[0]")
    with pytest.raises(MalformedResponseError, match="not valid base64"):
        decode_base64_floats("**not base64**", "data[0]")


@pytest.mark.parametrize("body", [None, {}, {"data": "x"}, {"data": [1]}, {"data": [{"index": 0, "embedding": ["a"]}]},
                                  {"data": [{"index": "0", "embedding": [1.0]}]}])
def test_openai_embedding_shapes_are_reported_not_raised_as_key_errors(body):
    with pytest.raises(MalformedResponseError):
        get_embedding_dialect("openai").parse_embed(body, encoding_format="float")


def test_tei_answers_are_bare_lists():
    assert get_embedding_dialect("tei").parse_embed([[0.1, 0.2], [0.3, 0.4]], encoding_format="float").items == [
        (0, [0.1, 0.2]), (1, [0.3, 0.4])]
    assert get_rerank_dialect("tei").parse_rerank([{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}]).items == [
        (1, 0.9), (0, 0.1)]
    with pytest.raises(MalformedResponseError):
        get_rerank_dialect("tei").parse_rerank({"error": "x"})
    info = get_rerank_dialect("tei").parse_error(413, {"error": "batch size 64 > maximum allowed batch size 32",
                                                       "error_type": "Validation"})
    assert (info.code, info.message) == ("Validation", "batch size 64 > maximum allowed batch size 32")


def test_rerank_answers():
    vllm = {"id": "r", "results": [{"index": 1, "relevance_score": 0.8, "document": {"text": "黄河"}},
                                   {"index": 0, "relevance_score": 0.2}], "usage": {"total_tokens": 30}}
    answer = get_rerank_dialect("vllm_rerank").parse_rerank(vllm)
    assert answer.items == [(1, 0.8), (0, 0.2)] and answer.total_tokens == 30
    score = {"data": [{"index": 0, "object": "score", "score": 0.7}], "usage": {"prompt_tokens": 9, "total_tokens": 9}}
    assert get_rerank_dialect("vllm_score").parse_rerank(score).items == [(0, 0.7)]
    xinf = {"id": "x", "results": [{"index": 0, "relevance_score": 0.5, "document": None}],
            "meta": {"tokens": {"input_tokens": 12, "output_tokens": 12}}}
    answer = get_rerank_dialect("xinference").parse_rerank(xinf)
    assert answer.items == [(0, 0.5)] and answer.total_tokens == 12
    with pytest.raises(MalformedResponseError, match="finite"):
        get_rerank_dialect("vllm_rerank").parse_rerank({"results": [{"index": 0, "relevance_score": None}]})


def test_dialect_inference_from_paths():
    assert infer_embedding_dialect("http://h:8000/v1/embeddings").name == "openai"
    assert infer_embedding_dialect("http://h:8080/embed").name == "tei"
    assert infer_embedding_dialect("http://h/other") is None
    assert infer_rerank_dialect("http://h:8080/rerank").name == "tei"
    assert infer_rerank_dialect("http://h:8000/v1/rerank").name == "vllm_rerank"
    assert infer_rerank_dialect("http://h:8000/v2/rerank").name == "vllm_rerank"
    assert infer_rerank_dialect("http://h:8000/score").name == "vllm_score"
    assert infer_rerank_dialect("http://h:8000/v1/score").name == "vllm_score"
    with pytest.raises(ConfigurationError, match="one of: tei, vllm_rerank, vllm_score, xinference"):
        get_rerank_dialect("cohere")


def test_an_unset_model_is_not_sent():
    assert "model" not in embed_body("openai", model="")
    for name in ("vllm_rerank", "vllm_score", "xinference"):
        assert "model" not in rerank_body(name, model="")
