"""EmbeddingClient over real loopback sockets against the emulator: every pitfall of the issue.

Each test fails without the handling it names: text (never token ids), base64 read as
little-endian float32, empty / all-zero answers refused, batches cut to the server's limit,
over-length inputs named by index (also behind llama.cpp's bare 500) or truncated on request.
"""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from domestic_llm.embeddings import EmbeddingClient
from domestic_llm.errors import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    InputTooLongError,
    MalformedResponseError,
    NotFoundError,
    ServerOverloadedError,
)
from domestic_llm.testing import Fault
from domestic_llm.testing.rag import embedding_of

TEXTS = ["长江全长约6300公里", "黄河是中国第二长河", "三峡大坝位于湖北宜昌", "中华鲟每年洄游到长江产卵"]


def client(emulator, **kw) -> EmbeddingClient:
    kw.setdefault("max_retries", 0)
    return EmbeddingClient(model="bge-m3", base_url=emulator.base_url, **kw)


def embed_requests(emulator, path="/v1/embeddings"):
    return [r for r in emulator.requests if r.path == path]


def test_vectors_are_the_servers_in_input_order(emulator):
    vectors = client(emulator).embed(TEXTS)
    assert vectors == [embedding_of(t) for t in TEXTS]
    (req,) = embed_requests(emulator)
    assert req.json == {"model": "bge-m3", "input": TEXTS, "encoding_format": "float"}


async def test_async_vectors(emulator):
    c = client(emulator)
    assert await c.aembed(TEXTS) == [embedding_of(t) for t in TEXTS]
    assert await c.aembed_one("长江") == embedding_of("长江")


def test_sends_text_never_token_ids(emulator):
    # the emulator answers token-id arrays like vLLM: HTTP 200 with an empty `data`
    raw = httpx.post(emulator.base_url + "/embeddings", json={"model": "m", "input": [[101, 102]]})
    assert raw.status_code == 200 and raw.json()["data"] == []
    assert client(emulator).embed(["你好"]) == [embedding_of("你好")]
    assert embed_requests(emulator)[-1].json["input"] == ["你好"]
    with pytest.raises(ConfigurationError, match=r"texts\[1\] is a list, not text"):
        client(emulator).embed(["ok", [101, 102]])  # type: ignore[list-item]


def test_empty_answer_is_an_error_not_an_empty_success(emulator):
    emulator.state.rag.empty_data = True
    with pytest.raises(MalformedResponseError, match=r"HTTP 200 with no vectors for 4 input\(s\)"):
        client(emulator).embed(TEXTS)


def test_all_zero_vectors_are_refused(emulator):
    emulator.state.rag.zero_vectors = True
    with pytest.raises(MalformedResponseError, match=r"the vector of texts\[0\] is all zeros"):
        client(emulator).embed(TEXTS)


def test_base64_answers_decode_to_the_float_answers(emulator):
    floats = client(emulator).embed(TEXTS)
    packed = client(emulator, encoding_format="base64").embed(TEXTS)
    assert embed_requests(emulator)[-1].json["encoding_format"] == "base64"
    assert isinstance(httpx.post(emulator.base_url + "/embeddings", json={
        "model": "m", "input": ["x"], "encoding_format": "base64"}).json()["data"][0]["embedding"], str)
    for a, b in zip(floats, packed):
        assert b == pytest.approx(a, abs=1e-6)  # float32 precision


def test_large_inputs_are_batched_under_the_server_limit_and_reassembled(emulator):
    texts = [f"第{i}段文字：长江与黄河" for i in range(100)]
    vectors = client(emulator).embed(texts)  # the emulator refuses more than 32 per request, like TEI
    assert vectors == [embedding_of(t) for t in texts]
    sizes = sorted(len(r.json["input"]) for r in embed_requests(emulator))
    assert sizes == [4, 32, 32, 32]
    sent = [t for r in embed_requests(emulator) for t in r.json["input"]]
    assert sorted(sent) == sorted(texts)


async def test_async_batches_concurrently_in_order(emulator):
    texts = [f"文本{i}" for i in range(70)]
    c = client(emulator, batch_size=10, max_concurrency=3)
    assert await c.aembed(texts) == [embedding_of(t) for t in texts]
    assert len(embed_requests(emulator)) == 7
    await c.aclose()  # its pooled connections, closed inside the loop that opened them


def test_a_lower_server_batch_limit_is_learned(emulator, caplog):
    emulator.state.rag.max_batch = 8
    c = client(emulator)  # default batch size 32 > 8
    texts = [f"文本{i}" for i in range(20)]
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        assert c.embed(texts) == [embedding_of(t) for t in texts]
    assert c.batch_size <= 8
    assert "batch size 20 > maximum allowed batch size 8" in caplog.text
    served = [r for r in embed_requests(emulator) if len(r.json["input"]) <= 8]
    assert sum(len(r.json["input"]) for r in served) == 20
    emulator.reset()
    emulator.state.rag.max_batch = 8
    c.embed(texts)  # the next call uses what was learned: no refused request
    assert all(len(r.json["input"]) <= 8 for r in embed_requests(emulator))


def test_overlength_input_is_named_by_index(emulator):
    emulator.state.rag.max_input_tokens = 20
    texts = ["短句"] * 5 + ["很长" * 20] + ["短句"] * 2
    with pytest.raises(InputTooLongError) as info:
        client(emulator).embed(texts)
    exc = info.value
    assert exc.index == 5 and exc.status == 400
    assert "texts[5] (40 characters) is longer than the embedding model accepts" in str(exc)
    assert "maximum context length is 20 tokens" in str(exc) and "truncate=True" in str(exc)


def test_llamacpp_bare_500_for_overlength_is_not_retried_and_names_the_index(emulator):
    emulator.state.rag.max_input_tokens = 20
    emulator.state.rag.overlength_status = 500
    texts = ["短句", "短句", "很长" * 20, "短句"]
    with pytest.raises(InputTooLongError) as info:
        client(emulator, max_retries=2).embed(texts)
    assert info.value.index == 2 and info.value.status == 500
    assert "input is too large to process" in str(info.value)
    # bisection: [0:4] → [0:2] ok, [2:4] → [2] fails: four requests, no retry of the 500s
    assert [len(r.json["input"]) for r in embed_requests(emulator)] == [4, 2, 2, 1]


def test_truncate_uses_the_servers_option(emulator):
    emulator.state.rag.max_input_tokens = 20
    long = "很长" * 20
    assert client(emulator, truncate=True).embed([long]) == [embedding_of(long[:20])]
    assert embed_requests(emulator)[-1].json["truncate_prompt_tokens"] == -1


def test_tei_truncate_and_overlength(emulator):
    emulator.state.rag.max_input_tokens = 20
    long = "很长" * 20
    tei = EmbeddingClient(endpoint=emulator.url + "/embed", max_retries=0)
    with pytest.raises(InputTooLongError, match=r"texts\[1\].*must have less than 20 tokens. Given: 40") as info:
        tei.embed(["短", long])
    assert info.value.status == 413 and info.value.code == "Validation"
    tei = EmbeddingClient(endpoint=emulator.url + "/embed", truncate=True, max_retries=0)
    assert tei.embed(["短", long]) == [embedding_of("短"), embedding_of(long[:20])]
    assert embed_requests(emulator, "/embed")[-1].json == {"inputs": ["短", long], "truncate": True}


def test_truncate_shortens_on_the_client_when_the_server_has_no_option(emulator, caplog):
    # llama.cpp ignores truncate_prompt_tokens: emulate with a 500 and check we cut the text ourselves
    emulator.state.rag.max_input_tokens = 20
    emulator.state.rag.overlength_status = 500

    class NoOption(type(EmbeddingClient(base_url="http://x/v1").dialect)):  # the openai dialect, minus the option
        server_truncation = False

    c = client(emulator, dialect=NoOption(), truncate=True)
    long = "很长" * 20
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        (vector,) = c.embed([long])
    last = embed_requests(emulator)[-1].json["input"][0]
    assert len(last) <= 20 and long.startswith(last)
    assert vector == embedding_of(last)
    assert "texts[0] is too long" in caplog.text


def test_dimensions_are_sent_and_checked(emulator):
    vectors = client(emulator, dimensions=16).embed(TEXTS)
    assert all(len(v) == 16 for v in vectors)
    assert embed_requests(emulator)[-1].json["dimensions"] == 16


@respx.mock
def test_answer_checks_count_order_dimensions():
    url = "http://10.9.9.9:8000/v1/embeddings"
    c = EmbeddingClient(model="m", endpoint=url, max_retries=0)
    route = respx.post(url)
    route.respond(json={"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]})
    assert c.embed(["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]  # put back in index order
    route.respond(json={"data": [{"index": 0, "embedding": [1.0, 0.0]}]})
    with pytest.raises(MalformedResponseError, match="1 vectors for 2 inputs"):
        c.embed(["a", "b"])
    route.respond(json={"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]})
    with pytest.raises(MalformedResponseError, match="index 0 is repeated"):
        c.embed(["a", "b"])
    route.respond(json={"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]})
    with pytest.raises(MalformedResponseError, match=r"texts\[1\] has 2 dimensions, texts\[0\] has 1"):
        c.embed(["a", "b"])
    route.respond(content=b'{"data": [{"index": 0, "embedding": [NaN]}]}')
    with pytest.raises(MalformedResponseError, match="NaN"):
        c.embed(["a"])
    route.respond(text="<html>bad gateway</html>")
    with pytest.raises(MalformedResponseError, match="not JSON"):
        c.embed(["a"])


def test_bad_input_is_refused_before_any_request(emulator):
    c = client(emulator)
    with pytest.raises(ConfigurationError, match="got one string"):
        c.embed("长江")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"texts\[1\] is empty"):
        c.embed(["a", "  "])
    assert c.embed([]) == []
    with pytest.raises(ConfigurationError, match="batch_size=0 must be a positive integer"):
        client(emulator, batch_size=0)
    with pytest.raises(ConfigurationError, match="base64.*tei"):
        EmbeddingClient(endpoint=emulator.url + "/embed", encoding_format="base64")
    with pytest.raises(ConfigurationError, match="embedding dialect of endpoint"):
        EmbeddingClient(endpoint=emulator.url + "/v1/vectors")
    with pytest.raises(ConfigurationError, match="DOMESTIC_LLM_EMBEDDING_ENDPOINT"):
        EmbeddingClient(model="m")
    assert emulator.requests == []


def test_retries_auth_and_secret_hygiene(emulator):
    emulator.state.api_key = "sk-emb-secret"
    with pytest.raises(AuthenticationError) as info:
        client(emulator, api_key="sk-wrong-secret").embed(["a"])
    assert info.value.status == 401 and "sk-wrong-secret" not in str(info.value)
    c = client(emulator, api_key="sk-emb-secret", max_retries=1)
    assert "sk-emb-secret" not in repr(c)
    emulator.fault(Fault(status=503, retry_after="0"))
    assert c.embed(["a"]) == [embedding_of("a")]
    assert embed_requests(emulator)[-1].headers["authorization"] == "Bearer sk-emb-secret"
    emulator.fault(Fault(status=503, times=2))
    with pytest.raises(ServerOverloadedError) as info:
        client(emulator, api_key="sk-emb-secret").embed(["a"])
    assert info.value.request_id is None and info.value.status == 503


def test_concurrency_stays_under_the_limit(emulator):
    emulator.state.rag.delay = 0.02  # lets requests overlap; the bound below holds however they do
    texts = [f"文本{i}" for i in range(40)]
    assert client(emulator, batch_size=4, max_concurrency=3).embed(texts) == [embedding_of(t) for t in texts]
    assert 1 <= emulator.state.rag.max_in_flight <= 3
    assert len(embed_requests(emulator)) == 10


async def test_async_concurrency_stays_under_the_limit(emulator):
    emulator.state.rag.delay = 0.02
    texts = [f"文本{i}" for i in range(40)]
    c = client(emulator, batch_size=4, max_concurrency=2)
    assert await c.aembed(texts) == [embedding_of(t) for t in texts]
    assert 1 <= emulator.state.rag.max_in_flight <= 2
    await c.aclose()


@respx.mock
def test_an_error_inside_http_200_is_an_error_and_still_localised():
    url = "http://10.9.9.9:8000/v1/embeddings"
    too_long = {"object": "error", "message": "This model's maximum context length is 8 tokens. However, you "
                "requested 12 tokens in the input for embedding generation.", "type": "BadRequestError", "code": 400}

    def gateway(request: httpx.Request) -> httpx.Response:
        import json

        inputs = json.loads(request.content)["input"]
        if any(len(t) > 8 for t in inputs):
            return httpx.Response(200, json=too_long)
        return httpx.Response(200, json={"data": [{"index": i, "embedding": [1.0]} for i in range(len(inputs))]})

    respx.post(url).mock(side_effect=gateway)
    c = EmbeddingClient(model="m", endpoint=url, max_retries=0)
    with pytest.raises(InputTooLongError) as info:
        c.embed(["短", "短", "这一句有十二个字那么长了"])
    assert info.value.index == 2 and info.value.status == 400
    respx.post(url).respond(200, json={"error": "gateway quota exhausted"})
    with pytest.raises(APIStatusError, match="HTTP 200 with an error: gateway quota exhausted"):
        c.embed(["短"])


@respx.mock
def test_model_not_found_lists_the_served_models():
    respx.post("http://10.9.9.9:8000/v1/embeddings").respond(404, json={
        "object": "error", "message": "The model `bge` does not exist.", "type": "NotFoundError", "code": 404})
    respx.get("http://10.9.9.9:8000/v1/models").respond(200, json={"object": "list", "data": [{"id": "bge-m3"}]})
    with pytest.raises(NotFoundError, match="the server serves: bge-m3"):
        EmbeddingClient(model="bge", base_url="http://10.9.9.9:8000/v1", max_retries=0).embed(["a"])
