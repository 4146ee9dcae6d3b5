"""The refusal handling EmbeddingClient and RerankClient share (service.BatchingClient), per client.

The splitting, shortening and limit learning are one piece of code; these tests pin
what each client says through it (error texts, log records) and that the sync and
async paths take the same steps, so a slip in the per-client names shows up here.
"""

from __future__ import annotations

import logging

import pytest

from domestic_llm.embeddings import EmbeddingClient
from domestic_llm.errors import InputTooLongError
from domestic_llm.rerank import RerankClient
from domestic_llm.testing.rag import embedding_of, relevance_score

QUERY = "长江里有哪些鱼类"


async def call(method, *args, sync):
    """`method(*args)` for a sync method, awaited for its async twin (`embed` → `aembed`)."""
    if sync:
        return method(*args)
    return await getattr(method.__self__, "a" + method.__name__)(*args)


def warnings_of(caplog):
    return [(r.msg, r.args) for r in caplog.records if r.name == "domestic_llm" and r.levelno == logging.WARNING]


def sizes(emulator, key):
    return [len(r.json[key]) for r in emulator.requests]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_rerank_learns_a_lower_batch_limit(emulator, caplog, sync):
    emulator.state.rag.max_batch = 8
    docs = [f"第{i}段长江" for i in range(20)]
    c = RerankClient(model="m", base_url=emulator.base_url, max_retries=0)
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        results = await call(c.rerank, QUERY, docs, sync=sync)
    assert [(r.index, r.score) for r in results] == sorted(
        [(i, relevance_score(QUERY, d)) for i, d in enumerate(docs)], key=lambda p: -p[1])
    assert c.batch_size == 5
    assert sizes(emulator, "documents") == [20, 10, 5, 5, 10, 5, 5]
    template = "domestic_llm: %s refused %d documents per request; using batch_size=%d (%s)"
    assert warnings_of(caplog) == [
        (template, ("vllm_rerank", 20, 10, "batch size 20 > maximum allowed batch size 8")),
        (template, ("vllm_rerank", 10, 5, "batch size 10 > maximum allowed batch size 8")),
    ]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_embeddings_learn_a_lower_batch_limit(emulator, caplog, sync):
    emulator.state.rag.max_batch = 8
    texts = [f"文本{i}" for i in range(20)]
    c = EmbeddingClient(model="bge-m3", base_url=emulator.base_url, max_retries=0)
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        assert await call(c.embed, texts, sync=sync) == [embedding_of(t) for t in texts]
    assert c.batch_size == 5
    assert sizes(emulator, "input") == [20, 10, 5, 5, 10, 5, 5]
    template = "domestic_llm: %s refused %d inputs per request; using batch_size=%d (%s)"
    assert [args[:3] for msg, args in warnings_of(caplog) if msg == template] == [("openai", 20, 10), ("openai", 10, 5)]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_an_overlength_input_is_named_in_each_clients_words(emulator, sync):
    emulator.state.rag.max_input_tokens = 30
    docs = ["黄河", "长江" * 30, "三峡"]
    reranker = RerankClient(model="m", endpoint=emulator.url + "/score", max_retries=0)
    with pytest.raises(InputTooLongError) as info:
        await call(reranker.rerank, QUERY, docs, sync=sync)
    assert info.value.args[0] == (
        "documents[1] (60 characters) with the query is longer than the rerank model accepts: This model's maximum "
        "context length is 30 tokens. However, you requested 60 tokens in the input for score. Please reduce the "
        "length of the input. Shorten or split it, or pass truncate=True to have it cut.")
    assert (info.value.index, info.value.status, info.value.url) == (1, 400, reranker.url)
    embedder = EmbeddingClient(model="bge-m3", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(InputTooLongError) as info:
        await call(embedder.embed, docs, sync=sync)
    assert info.value.args[0] == (
        "texts[1] (60 characters) is longer than the embedding model accepts: This model's maximum context length "
        "is 30 tokens. However, you requested 60 tokens in the input for embedding generation. Please reduce the "
        "length of the input. Shorten or split it, or pass truncate=True to have it cut.")
    assert (info.value.index, info.value.status, info.value.url) == (1, 400, embedder.url)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_rerank_shortens_on_the_client_and_says_so(emulator, caplog, sync):
    emulator.state.rag.max_input_tokens = 30
    docs = ["黄河", "长江" * 30]
    c = RerankClient(model="m", base_url=emulator.base_url, dialect="xinference", truncate=True, max_retries=0)
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        results = await call(c.rerank, QUERY, docs, sync=sync)
    assert {r.index for r in results} == {0, 1}
    template = "domestic_llm: documents[%d] is too long for %s; truncated from %d to %d characters"
    assert warnings_of(caplog) == [(template, (1, "xinference", 60, 27))]
    assert sizes(emulator, "documents") == [2, 1, 1, 1]
