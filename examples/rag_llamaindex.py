"""Retrieval-augmented answers with LlamaIndex, every model on private servers.

    .venv/bin/python examples/rag_llamaindex.py     # against the built-in emulator
    (with DOMESTIC_LLM_*, DOMESTIC_LLM_EMBEDDING_* and DOMESTIC_LLM_RERANK_* set: your servers,
    as in examples/rag_langchain.py)

A `VectorStoreIndex` embeds the documents with `DomesticEmbedding`, the query
engine retrieves the nearest four, `DomesticRerank` keeps the best two and
`DomesticLLM` answers from them — no public service, nothing downloaded.
"""

from __future__ import annotations

from _target import rag_target
from llama_index.core import Document, VectorStoreIndex

from llamaindex_domestic_llm import DomesticEmbedding, DomesticLLM, DomesticRerank

DOCUMENTS = [
    "长江全长约6300公里，是中国第一长河，发源于唐古拉山脉，注入东海。",
    "黄河全长约5464公里，是中国第二长河，流经黄土高原，含沙量极高。",
    "长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼、鲤鱼，以及特有的鲥鱼和中华鲟。",
    "三峡大坝位于湖北宜昌，是世界上装机容量最大的水电站。",
    "珠江是中国南方最大的河流，由西江、北江和东江汇流而成。",
    "中华鲟是国家一级保护动物，每年秋季从海洋洄游到长江产卵。",
]


def main() -> None:
    with rag_target() as (chat, embedding, rerank):
        index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCUMENTS],
                                                embed_model=DomesticEmbedding(**embedding))
        engine = index.as_query_engine(
            llm=DomesticLLM(**chat),
            similarity_top_k=4,
            node_postprocessors=[DomesticRerank(**rerank, top_n=2)],
        )
        question = "长江里有哪些典型的鱼类？"
        print(f"question: {question}")
        response = engine.query(question)
        for rank, node in enumerate(response.source_nodes, 1):
            print(f"  [{rank}] {node.score:.4f} {node.node.get_content()}")
        print(f"answer:   {response.response}")


if __name__ == "__main__":
    main()
