"""The documented ways to build the models, checked by mypy in `make lint` (not run by pytest).

Type checkers take a pydantic field's `alias` as the name of its __init__ parameter; this
file fails `make lint` if a documented keyword (`model=`, `max_tokens=`, `timeout=`, ...)
stops being the typed one. `api_key` is typed `SecretStr` (a plain string is accepted at run
time), as langchain-openai types its key.
"""

from __future__ import annotations

from pydantic import SecretStr

from langchain_domestic_llm import ChatDomestic, DomesticEmbeddings, DomesticReranker
from llamaindex_domestic_llm import DomesticEmbedding, DomesticLLM, DomesticRerank


def build_all(url: str) -> list[object]:
    return [
        ChatDomestic(model="qwen2.5-72b-instruct", base_url=url, api_key=SecretStr("sk-x"), max_tokens=256, stop=["\n\n"],
                     timeout=30.0, temperature=0.2, streaming=False, n=1),
        DomesticLLM(model="qwen2.5-72b-instruct", base_url=url, api_key=SecretStr("sk-x"), max_tokens=256, timeout=30.0,
                    temperature=0.2),
        DomesticEmbeddings(model="bge-m3", base_url=url, batch_size=16),
        DomesticEmbedding(model="bge-m3", base_url=url, batch_size=16),
        DomesticReranker(model="bge-reranker-v2-m3", base_url=url, top_n=3),
        DomesticRerank(model="bge-reranker-v2-m3", base_url=url, top_n=3),
    ]
