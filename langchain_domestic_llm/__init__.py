"""LangChain integration of domestic-llm: `ChatDomestic`, `DomesticEmbeddings`, `DomesticReranker`.

The core's exceptions are re-exported so LangChain code can catch them from here.
"""

from domestic_llm import errors as _core_errors
from domestic_llm.errors import *  # noqa: F403 - the core's exceptions, catchable from here

from .chat_models import ChatDomestic
from .embeddings import DomesticEmbeddings
from .rerank import DomesticReranker

__all__ = ["ChatDomestic", "DomesticEmbeddings", "DomesticReranker", *_core_errors.__all__]
