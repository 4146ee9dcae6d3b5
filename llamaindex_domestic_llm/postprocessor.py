"""`DomesticRerank`: a LlamaIndex node postprocessor backed by a private reranker."""

from __future__ import annotations

from typing import Any

from llama_index.core.bridge.pydantic import Field, SecretStr
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from domestic_llm.deployment import RerankSettings
from domestic_llm.errors import ConfigurationError
from domestic_llm.rerank import RerankResult

dispatcher = get_dispatcher(__name__)


class DomesticRerank(BaseNodePostprocessor, RerankSettings):
    """Rerank retrieved nodes with bge-reranker / Qwen3-Reranker behind vLLM, TEI or Xinference.

    ```python
    from llamaindex_domestic_llm import DomesticRerank

    rerank = DomesticRerank(model="bge-reranker-v2-m3", base_url="http://10.0.0.5:8002/v1", top_n=3)
    engine = index.as_query_engine(similarity_top_k=10, node_postprocessors=[rerank])
    ```

    Each kept node's `score` becomes the reranker's score (the retrieval score is
    kept in `metadata["retrieval_score"]` with `keep_retrieval_score=True`).
    """

    api_key: SecretStr | None = Field(default=None, exclude=True)
    keep_retrieval_score: bool = False

    @classmethod
    def class_name(cls) -> str:
        return "DomesticRerank"

    def _start(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> tuple[str, list[str]]:
        if query_bundle is None:
            raise ConfigurationError("DomesticRerank needs the query: pass query_bundle= or query_str=")
        dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=self.top_n or len(nodes),
                                          model_name=self.model))
        return query_bundle.query_str, [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]

    def _finish(self, nodes: list[NodeWithScore], ranked: list[RerankResult]) -> list[NodeWithScore]:
        kept = []
        for hit in ranked:
            node = nodes[hit.index]
            if self.keep_retrieval_score:
                node.node.metadata["retrieval_score"] = node.score
            kept.append(NodeWithScore(node=node.node, score=hit.score))
        dispatcher.event(ReRankEndEvent(nodes=kept))
        return kept

    def _event(self, nodes: list[NodeWithScore], query: str) -> Any:
        return self.callback_manager.event(
            CBEventType.RERANKING,
            payload={EventPayload.NODES: nodes, EventPayload.MODEL_NAME: self.model,
                     EventPayload.QUERY_STR: query, EventPayload.TOP_K: self.top_n},
        )

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if not nodes:
            return []
        query, texts = self._start(nodes, query_bundle)
        with self._event(nodes, query) as event:
            kept = self._finish(nodes, self.client.rerank(query, texts))
            event.on_end(payload={EventPayload.NODES: kept})
        return kept

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        query, texts = self._start(nodes, query_bundle)
        with self._event(nodes, query) as event:
            kept = self._finish(nodes, await self.client.arerank(query, texts))
            event.on_end(payload={EventPayload.NODES: kept})
        return kept
