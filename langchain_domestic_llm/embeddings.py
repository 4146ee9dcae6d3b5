"""`DomesticEmbeddings`: LangChain embeddings from a private embedding server.

A thin adapter over the core `EmbeddingClient` (OpenAI-style `/v1/embeddings`
or TEI `/embed`): batching, concurrency, checks of every vector and the error
types are the core's; errors are also langchain-core's standard model errors.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from domestic_llm.deployment import EmbeddingSettings

from ._errors import langchain_errors


class DomesticEmbeddings(EmbeddingSettings, Embeddings):
    """Embeddings (bge-m3, Qwen3-Embedding, …) served by vLLM, SGLang, MindIE, llama.cpp, Xinference or TEI.

    ```python
    from langchain_domestic_llm import DomesticEmbeddings

    embeddings = DomesticEmbeddings(model="bge-m3", base_url="http://10.0.0.5:8001/v1")   # /v1/embeddings
    embeddings = DomesticEmbeddings(endpoint="http://10.0.0.6:8080/embed")                 # TEI
    vectors = embeddings.embed_documents(["长江全长约6300公里", "三峡大坝位于湖北宜昌"])
    ```

    Text is always sent as text (never token ids); inputs go in batches of
    `batch_size` (default 32), `max_concurrency` at a time; an over-length input
    raises `InputTooLongError` naming its index unless `truncate=True`. Settings
    also come from `DOMESTIC_LLM_EMBEDDING_{MODEL,ENDPOINT,BASE_URL,DIALECT,API_KEY}`.
    """

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        with langchain_errors():
            return self.client.embed(texts)

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text (embedding models that want a query instruction get it in the text)."""
        with langchain_errors():
            return self.client.embed_one(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, natively async."""
        with langchain_errors():
            return await self.client.aembed(texts)

    async def aembed_query(self, text: str) -> list[float]:
        with langchain_errors():
            return await self.client.aembed_one(text)
