"""A LlamaIndex query engine over local documents, streaming its answer.

    .venv/bin/python examples/llamaindex_query_engine.py     # against the built-in emulator

A `SummaryIndex` needs no embedding model (it hands every node to the LLM), so
nothing but the chat endpoint is involved — no embedding service, no download.
"""

from __future__ import annotations

from _target import target
from llama_index.core import Document, Settings, SummaryIndex

from llamaindex_domestic_llm import DomesticLLM

DOCUMENTS = [
    Document(text="长江全长约6300公里，是中国第一长河，发源于唐古拉山脉，注入东海。"),
    Document(text="长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼、鲤鱼，以及特有的鲥鱼和中华鲟。"),
    Document(text="三峡大坝位于湖北宜昌，是世界上装机容量最大的水电站。"),
]


def main() -> None:
    with target(demo_model="qwen-72b") as kwargs:
        Settings.llm = DomesticLLM(**kwargs)
        index = SummaryIndex.from_documents(DOCUMENTS)
        engine = index.as_query_engine(streaming=True)
        question = "长江里有哪些典型的鱼类？"
        print(f"question: {question}\nanswer:   ", end="")
        response = engine.query(question)
        for token in response.response_gen:
            print(token, end="", flush=True)
        print(f"\nsources:  {len(response.source_nodes)} document(s)")


if __name__ == "__main__":
    main()
