"""Retrieval-augmented answers with LangChain, every model on private servers.

    .venv/bin/python examples/rag_langchain.py      # against the built-in emulator
    DOMESTIC_LLM_BASE_URL=http://10.0.0.5:1025/v1 DOMESTIC_LLM_MODEL=qwen2.5-72b-instruct \\
    DOMESTIC_LLM_EMBEDDING_BASE_URL=http://10.0.0.5:8001/v1 DOMESTIC_LLM_EMBEDDING_MODEL=bge-m3 \\
    DOMESTIC_LLM_RERANK_ENDPOINT=http://10.0.0.6:8080/rerank \\
    .venv/bin/python examples/rag_langchain.py      # vLLM chat + vLLM embeddings + TEI reranker

Index a few local documents with the private embedding model (in memory),
retrieve the nearest four, rerank them with the private reranker
(`ContextualCompressionRetriever`, from langchain-classic) and answer with the
private chat model from the two best.
"""

from __future__ import annotations

from _target import rag_target
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_domestic_llm import ChatDomestic, DomesticEmbeddings, DomesticReranker

DOCUMENTS = [
    "长江全长约6300公里，是中国第一长河，发源于唐古拉山脉，注入东海。",
    "黄河全长约5464公里，是中国第二长河，流经黄土高原，含沙量极高。",
    "长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼、鲤鱼，以及特有的鲥鱼和中华鲟。",
    "三峡大坝位于湖北宜昌，是世界上装机容量最大的水电站。",
    "珠江是中国南方最大的河流，由西江、北江和东江汇流而成。",
    "中华鲟是国家一级保护动物，每年秋季从海洋洄游到长江产卵。",
]

PROMPT = ChatPromptTemplate.from_messages([
    ("system", "只根据资料回答。"),
    ("human", "资料：\n{context}\n\nQuestion: {question}\nAnswer:"),
])


def main() -> None:
    with rag_target() as (chat, embedding, rerank):
        store = InMemoryVectorStore(DomesticEmbeddings(**embedding))
        store.add_texts(DOCUMENTS)
        retriever = ContextualCompressionRetriever(
            base_retriever=store.as_retriever(search_kwargs={"k": 4}),
            base_compressor=DomesticReranker(**rerank, top_n=2),
        )
        question = "长江里有哪些典型的鱼类？"
        print(f"question: {question}")
        docs = retriever.invoke(question)
        for rank, doc in enumerate(docs, 1):
            print(f"  [{rank}] {doc.metadata['relevance_score']:.4f} {doc.page_content}")
        chain = PROMPT | ChatDomestic(**chat) | StrOutputParser()
        answer = chain.invoke({"context": "\n".join(d.page_content for d in docs), "question": question})
        print(f"answer:   {answer}")


if __name__ == "__main__":
    main()
