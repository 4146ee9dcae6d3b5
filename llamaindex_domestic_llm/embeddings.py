"""`DomesticEmbedding`: LlamaIndex embedding model backed by a private embedding server.

A thin adapter over the core `EmbeddingClient`; batching, concurrency and the
checks of every vector are the core's.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, SecretStr, model_validator

from domestic_llm.deployment import EmbeddingSettings


class DomesticEmbedding(BaseEmbedding, EmbeddingSettings):
    """Embeddings (bge-m3, Qwen3-Embedding, …) from vLLM, SGLang, MindIE, llama.cpp, Xinference or TEI.

    ```python
    from llama_index.core import Settings
    from llamaindex_domestic_llm import DomesticEmbedding

    Settings.embed_model = DomesticEmbedding(model="bge-m3", base_url="http://10.0.0.5:8001/v1")
    ```

    Configuration is `DomesticEmbeddings`' (LangChain): `endpoint` or `base_url`,
    `model`, `dialect`, `api_key`, `batch_size` (inputs per request, default 32),
    `max_concurrency`, `truncate`, `dimensions`, `encoding_format`, connection
    options, and `DOMESTIC_LLM_EMBEDDING_*`. LlamaIndex's own `embed_batch_size`
    (how many texts it hands over per call) defaults to 256 here, so that the
    client's batches run concurrently.
    """

    # redeclared to keep the key out of LlamaIndex's to_dict / to_json
    api_key: SecretStr | None = Field(default=None, exclude=True)
    embed_batch_size: int = Field(default=256, gt=0, le=2048, description="Texts LlamaIndex hands over per call.")

    @classmethod
    def class_name(cls) -> str:
        return "DomesticEmbedding"

    @model_validator(mode="after")
    def _name_model(self) -> Any:
        if self.model and self.model_name == "unknown":
            self.model_name = self.model
        return self

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.client.embed_one(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self.client.aembed_one(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.client.embed_one(text)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await self.client.aembed_one(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.client.embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self.client.aembed(texts)
