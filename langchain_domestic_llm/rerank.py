"""`DomesticReranker`: a LangChain document compressor backed by a private reranker.

Use it in `ContextualCompressionRetriever` (langchain-classic) or call it
directly; each kept document gets its score in `metadata["relevance_score"]`.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import Document
from langchain_core.documents.compressor import BaseDocumentCompressor

from domestic_llm.deployment import RerankSettings
from domestic_llm.rerank import RerankResult

from ._errors import langchain_errors


class DomesticReranker(RerankSettings, BaseDocumentCompressor):
    """Reranker (bge-reranker, Qwen3-Reranker, …) behind vLLM `/rerank` or `/score`, TEI `/rerank` or Xinference.

    ```python
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_domestic_llm import DomesticReranker

    reranker = DomesticReranker(model="bge-reranker-v2-m3", base_url="http://10.0.0.5:8002/v1", top_n=3)
    retriever = ContextualCompressionRetriever(base_compressor=reranker, base_retriever=vectorstore.as_retriever())
    ```

    Returns at most `top_n` documents, best first (`top_n=None`: all of them,
    reordered). Settings also come from `DOMESTIC_LLM_RERANK_*`.
    """

    @staticmethod
    def _kept(documents: Sequence[Document], ranked: list[RerankResult]) -> list[Document]:
        out = []
        for hit in ranked:
            doc = documents[hit.index]
            out.append(Document(page_content=doc.page_content, id=doc.id,
                                metadata={**doc.metadata, "relevance_score": hit.score}))
        return out

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The documents most relevant to `query`, best first, with `metadata["relevance_score"]`."""
        with langchain_errors():
            ranked = self.client.rerank(query, [d.page_content for d in documents])
        return self._kept(documents, ranked)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """`compress_documents`, natively async."""
        with langchain_errors():
            ranked = await self.client.arerank(query, [d.page_content for d in documents])
        return self._kept(documents, ranked)
