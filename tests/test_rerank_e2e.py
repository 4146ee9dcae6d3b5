"""RerankClient over real loopback sockets against the emulator, one test per route and pitfall."""

from __future__ import annotations

import pytest
import respx

from domestic_llm.errors import ConfigurationError, InputTooLongError, MalformedResponseError
from domestic_llm.rerank import RerankClient
from domestic_llm.testing.rag import relevance_score

QUERY = "长江里有哪些鱼类"
DOCS = [
    "黄河全长约5464公里，是中国第二长河。",
    "长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼、鲤鱼。",
    "三峡大坝位于湖北宜昌。",
    "中华鲟每年秋季从海洋洄游到长江产卵。",
    "长江全长约6300公里。",
]


def expected(docs=DOCS, query=QUERY, top_n=None):
    scored = sorted(range(len(docs)), key=lambda i: -relevance_score(query, docs[i]))
    return [(i, relevance_score(query, docs[i])) for i in scored][:top_n]


def got(results):
    return [(r.index, r.score) for r in results]


ROUTES = {
    # dialect: (client kwargs, path served, request keys that must be there)
    "vllm_rerank": (lambda e: {"base_url": e.base_url}, "/v1/rerank", {"model", "query", "documents"}),
    "vllm_rerank_v2": (lambda e: {"endpoint": e.url + "/v2/rerank"}, "/v2/rerank", {"query", "documents"}),
    "tei": (lambda e: {"endpoint": e.url + "/rerank"}, "/rerank", {"query", "texts"}),
    "vllm_score": (lambda e: {"endpoint": e.url + "/score"}, "/score", {"text_1", "text_2"}),
    "xinference": (lambda e: {"base_url": e.base_url, "dialect": "xinference"}, "/v1/rerank",
                   {"query", "documents", "return_documents"}),
}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_route_ranks_by_the_servers_scores(emulator, name):
    kwargs, path, keys = ROUTES[name]
    c = RerankClient(model="bge-reranker-v2-m3", max_retries=0, **kwargs(emulator))
    results = c.rerank(QUERY, DOCS, top_n=3)
    assert got(results) == expected(top_n=3)
    assert results[0].document == DOCS[results[0].index]
    (req,) = emulator.requests
    assert req.path == path and keys <= set(req.json)
    assert "top_n" not in req.json  # cut here, after merging batches


async def test_async_rerank(emulator):
    c = RerankClient(model="m", base_url=emulator.base_url, max_retries=0)
    assert got(await c.arerank(QUERY, DOCS)) == expected()


def test_many_documents_are_batched_and_merged(emulator):
    docs = [f"第{i}段：" + ("长江鱼类" if i % 7 == 0 else "黄河泥沙") for i in range(45)]
    c = RerankClient(endpoint=emulator.url + "/rerank", max_retries=0)  # TEI refuses more than 32
    assert got(c.rerank(QUERY, docs)) == expected(docs)
    assert sorted(len(r.json["texts"]) for r in emulator.requests) == [13, 32]


async def test_async_batches_under_a_limit(emulator):
    docs = [f"文档{i}长江" for i in range(25)]
    c = RerankClient(model="m", base_url=emulator.base_url, batch_size=5, max_concurrency=2, max_retries=0)
    assert got(await c.arerank(QUERY, docs, top_n=4)) == expected(docs, top_n=4)
    assert len(emulator.requests) == 5
    await c.aclose()  # its pooled connections, closed inside the loop that opened them


def test_empty_answer_is_an_error(emulator):
    emulator.state.rag.empty_data = True
    c = RerankClient(model="m", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(MalformedResponseError, match=r"HTTP 200 with no scores for 5 document\(s\)"):
        c.rerank(QUERY, DOCS)


def test_overlength_document_is_named_or_truncated(emulator):
    emulator.state.rag.max_input_tokens = 30
    docs = DOCS[:3] + ["长江" * 30] + DOCS[3:]
    c = RerankClient(model="m", endpoint=emulator.url + "/score", max_retries=0)
    with pytest.raises(InputTooLongError, match=r"documents\[3\] \(60 characters\)") as info:
        c.rerank(QUERY, docs)
    assert info.value.index == 3
    c = RerankClient(model="m", endpoint=emulator.url + "/score", truncate=True, max_retries=0)
    results = c.rerank(QUERY, docs)
    assert {r.index for r in results} == set(range(6))
    assert emulator.requests[-1].json["truncate_prompt_tokens"] == -1


def test_xinference_has_no_truncation_option_so_the_client_shortens(emulator):
    emulator.state.rag.max_input_tokens = 30
    docs = ["长江" * 30, "黄河"]
    c = RerankClient(model="m", base_url=emulator.base_url, dialect="xinference", truncate=True, max_retries=0)
    results = c.rerank(QUERY, docs)
    served = [r.json["documents"] for r in emulator.requests if r.json["documents"][0].startswith("长江")]
    assert len(served[-1]) == 1 and len(served[-1][0]) <= 30  # the accepted, shortened text
    assert {r.index for r in results} == {0, 1}


@respx.mock
def test_answer_must_score_each_document_once():
    url = "http://10.9.9.9:8000/v1/rerank"
    c = RerankClient(model="m", endpoint=url, max_retries=0)
    route = respx.post(url)
    route.respond(json={"results": [{"index": 0, "relevance_score": 0.5}]})
    with pytest.raises(MalformedResponseError, match=r"1 scores for 2 documents; no score for documents\[1\]"):
        c.rerank("q", ["a", "b"])
    route.respond(json={"results": [{"index": 0, "relevance_score": 0.5}, {"index": 2, "relevance_score": 0.1}]})
    with pytest.raises(MalformedResponseError, match="index 2 is out of range"):
        c.rerank("q", ["a", "b"])
    route.respond(json={"results": [{"index": 1, "relevance_score": 0.5}, {"index": 0, "relevance_score": 0.5}]})
    assert got(c.rerank("q", ["a", "b"])) == [(0, 0.5), (1, 0.5)]  # ties keep input order


def test_bad_input_before_any_request(emulator):
    c = RerankClient(model="m", base_url=emulator.base_url)
    with pytest.raises(ConfigurationError, match="query=''"):
        c.rerank("", DOCS)
    with pytest.raises(ConfigurationError, match=r"documents\[0\] is a int"):
        c.rerank("q", [1])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="top_n=0"):
        c.rerank("q", DOCS, top_n=0)
    assert c.rerank("q", []) == []
    with pytest.raises(ConfigurationError, match="rerank dialect of endpoint"):
        RerankClient(endpoint=emulator.url + "/api/rank")
    assert emulator.requests == []
