"""LangChain integration of domestic-llm: `ChatDomestic`, `DomesticEmbeddings`, `DomesticReranker`.

The core's exceptions are re-exported so LangChain code can catch them from here.
The classes are loaded on first use (PEP 562): `import langchain_domestic_llm` does
not pay for langchain-core's chat-model machinery and httpx until they are needed.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from domestic_llm import errors as _core_errors
from domestic_llm.errors import *  # noqa: F403 - the core's exceptions, catchable from here

if TYPE_CHECKING:
    from .chat_models import ChatDomestic
    from .embeddings import DomesticEmbeddings
    from .rerank import DomesticReranker

__all__ = ["ChatDomestic", "DomesticEmbeddings", "DomesticReranker", *_core_errors.__all__]

#: public name -> the module that defines it, imported when the name is first used
_LAZY = {"ChatDomestic": ".chat_models", "DomesticEmbeddings": ".embeddings", "DomesticReranker": ".rerank"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value
