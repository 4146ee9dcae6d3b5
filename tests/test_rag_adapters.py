"""LangChain and LlamaIndex adapters for embeddings and rerank, settings, and the Deployment object."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from domestic_llm.deployment import ConnectionSettings, Deployment
from domestic_llm.errors import ConfigurationError, InputTooLongError
from domestic_llm.settings import EndpointSettings
from domestic_llm.testing.rag import embedding_of, relevance_score
from langchain_domestic_llm import ChatDomestic, DomesticEmbeddings, DomesticReranker

DOCS = [
    "长江全长约6300公里，是中国第一长河。",
    "黄河全长约5464公里，流经黄土高原。",
    "长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼。",
    "三峡大坝位于湖北宜昌。",
    "中华鲟每年秋季洄游到长江产卵。",
]
QUERY = "长江里有哪些典型鱼类"


class TestDomesticEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[DomesticEmbeddings]:
        return DomesticEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "bge-m3", "base_url": "http://127.0.0.1:8001/v1"}

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        return (
            {
                "DOMESTIC_LLM_EMBEDDING_BASE_URL": "http://127.0.0.1:8001/v1",
                "DOMESTIC_LLM_EMBEDDING_MODEL": "bge-m3",
                "DOMESTIC_LLM_API_KEY": "env-key",
            },
            {},
            {"base_url": "http://127.0.0.1:8001/v1", "model": "bge-m3", "api_key": "env-key"},
        )


class TestDomesticEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[DomesticEmbeddings]:
        return DomesticEmbeddings

    @pytest.fixture
    def model(self, emulator) -> DomesticEmbeddings:
        return DomesticEmbeddings(model="bge-m3", base_url=emulator.base_url)


def test_langchain_embeddings_values_and_errors(emulator):
    emb = DomesticEmbeddings(model="bge-m3", base_url=emulator.base_url, max_retries=0)
    assert emb.embed_documents(DOCS) == [embedding_of(d) for d in DOCS]
    assert emb.embed_query(QUERY) == embedding_of(QUERY)
    emulator.state.rag.max_input_tokens = 10
    with pytest.raises(InputTooLongError) as info:
        emb.embed_documents(["短", "这一句超过了十个字的长度限制"])
    from langchain_core.exceptions import ContextOverflowError as LCContextOverflow

    assert isinstance(info.value, LCContextOverflow) and info.value.index == 1  # also langchain-core's type


def test_embedding_settings_from_env_never_take_the_chat_route(monkeypatch):
    monkeypatch.setenv("DOMESTIC_LLM_BASE_URL", "http://127.0.0.1:1025/v1")
    monkeypatch.setenv("DOMESTIC_LLM_MODEL", "qwen-72b")
    with pytest.raises(ValueError, match="DOMESTIC_LLM_EMBEDDING_ENDPOINT"):  # pydantic wraps ConfigurationError
        DomesticEmbeddings()
    monkeypatch.setenv("DOMESTIC_LLM_EMBEDDING_ENDPOINT", "http://127.0.0.1:8080/embed")
    emb = DomesticEmbeddings()
    assert (emb.client.dialect.name, emb.client.url, emb.model) == ("tei", "http://127.0.0.1:8080/embed", "")
    # an explicit URL beats the environment
    emb = DomesticEmbeddings(model="bge-m3", base_url="http://127.0.0.1:9/v1")
    assert emb.client.url == "http://127.0.0.1:9/v1/embeddings"


def test_settings_are_checked_and_secrets_hidden():
    with pytest.raises(ValueError, match="batchsize"):
        DomesticEmbeddings(model="m", base_url="http://127.0.0.1:9/v1", batchsize=8)
    with pytest.raises(ValueError, match="batch_size"):
        DomesticEmbeddings(model="m", base_url="http://127.0.0.1:9/v1", batch_size=0)
    emb = DomesticEmbeddings(model="m", base_url="http://127.0.0.1:9/v1", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(emb) and "sk-very-secret" not in str(emb.model_dump())
    assert "sk-very-secret" not in repr(emb.client)


def test_connection_settings_match_the_chat_settings():
    # the embedding / rerank connection fields are the chat side's: same names, types and defaults
    for name, field in ConnectionSettings.model_fields.items():
        chat = EndpointSettings.model_fields[name]
        assert chat.annotation == field.annotation, name
        if name != "api_key":  # the chat side reads DOMESTIC_LLM_API_KEY in a default factory
            assert chat.default == field.default, name


def test_reranker_in_contextual_compression_retriever(emulator):
    from langchain_classic.retrievers import ContextualCompressionRetriever

    store = InMemoryVectorStore(DomesticEmbeddings(model="bge-m3", base_url=emulator.base_url))
    store.add_texts(DOCS)
    reranker = DomesticReranker(model="bge-reranker", base_url=emulator.base_url, top_n=2)
    retriever = ContextualCompressionRetriever(base_compressor=reranker,
                                               base_retriever=store.as_retriever(search_kwargs={"k": 4}))
    docs = retriever.invoke(QUERY)
    candidates = [d.page_content for d in store.similarity_search(QUERY, k=4)]
    best = sorted(candidates, key=lambda d: -relevance_score(QUERY, d))[:2]
    assert [d.page_content for d in docs] == best
    assert [d.metadata["relevance_score"] for d in docs] == [relevance_score(QUERY, d) for d in best]


async def test_reranker_async_keeps_metadata(emulator):
    reranker = DomesticReranker(model="bge-reranker", endpoint=emulator.url + "/rerank", top_n=None)
    docs = [Document(page_content=t, metadata={"source": i}, id=str(i)) for i, t in enumerate(DOCS)]
    out = await reranker.acompress_documents(docs, QUERY)
    assert [d.metadata["source"] for d in out] == sorted(range(5), key=lambda i: -relevance_score(QUERY, DOCS[i]))
    assert out[0].id == str(out[0].metadata["source"])
    assert all(r.path == "/rerank" for r in emulator.requests)


def test_deployment_describes_all_three_routes(emulator):
    emulator.state.api_key = "sk-deploy"
    dep = Deployment(
        api_key="sk-deploy", timeout=30, max_retries=0,
        chat={"model": "qwen-72b", "base_url": emulator.base_url},
        embedding={"model": "bge-m3", "base_url": emulator.base_url},
        rerank={"model": "bge-reranker", "endpoint": emulator.url + "/score", "timeout": 5},
    )
    llm = ChatDomestic(**dep.chat_kwargs())
    emb = DomesticEmbeddings(**dep.embedding_kwargs())
    rr = DomesticReranker(**dep.rerank_kwargs())
    assert llm.invoke("你好").content
    assert emb.embed_query("你好") == embedding_of("你好")
    assert rr.compress_documents([Document(page_content=d) for d in DOCS], QUERY)
    assert {r.path for r in emulator.requests} == {"/v1/chat/completions", "/v1/embeddings", "/score"}
    assert all(r.headers["authorization"] == "Bearer sk-deploy" for r in emulator.requests)
    assert (emb.timeout, rr.timeout, emb.max_retries) == (30, 5, 0)
    assert "sk-deploy" not in repr(dep)
    with pytest.raises(ConfigurationError, match="no rerank route"):
        Deployment(chat={"model": "m"}).rerank_kwargs()
    with pytest.raises(ValueError, match="embeddings"):
        Deployment(embeddings={"model": "m"})  # misspelt route: refused, not dropped


def test_llamaindex_embedding_and_rerank(emulator):
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from llamaindex_domestic_llm import DomesticEmbedding, DomesticRerank

    emb = DomesticEmbedding(model="bge-m3", base_url=emulator.base_url)
    assert emb.model_name == "bge-m3"
    assert emb.get_text_embedding_batch(DOCS) == [embedding_of(d) for d in DOCS]
    assert emb.get_query_embedding(QUERY) == embedding_of(QUERY)
    rerank = DomesticRerank(model="bge-reranker", base_url=emulator.base_url, top_n=2, keep_retrieval_score=True)
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.1 * i) for i, t in enumerate(DOCS)]
    kept = rerank.postprocess_nodes(nodes, QueryBundle(QUERY))
    best = sorted(range(5), key=lambda i: -relevance_score(QUERY, DOCS[i]))[:2]
    assert [n.node.get_content() for n in kept] == [DOCS[i] for i in best]
    assert [n.score for n in kept] == [relevance_score(QUERY, DOCS[i]) for i in best]
    assert kept[0].node.metadata["retrieval_score"] == pytest.approx(0.1 * best[0])
    assert "api_key" not in DomesticEmbedding(model="m", base_url=emulator.base_url, api_key="sk-x").to_dict()


async def test_llamaindex_async(emulator):
    from llama_index.core.schema import NodeWithScore, TextNode

    from llamaindex_domestic_llm import DomesticEmbedding, DomesticRerank

    emb = DomesticEmbedding(model="bge-m3", base_url=emulator.base_url, batch_size=2)
    assert await emb.aget_text_embedding_batch(DOCS) == [embedding_of(d) for d in DOCS]
    rerank = DomesticRerank(model="bge-reranker", base_url=emulator.base_url, top_n=1)
    kept = await rerank.apostprocess_nodes([NodeWithScore(node=TextNode(text=t)) for t in DOCS], query_str=QUERY)
    assert kept[0].node.get_content() == max(DOCS, key=lambda d: relevance_score(QUERY, d))
