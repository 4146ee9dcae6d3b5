"""domestic-llm core: neutral types, dialects, transport and client. Imports no framework.

The clients and the dialect helpers are loaded on first use (PEP 562): they pull in
httpx, which `import domestic_llm` — and so `import langchain_domestic_llm` /
`import llamaindex_domestic_llm` — should not pay for before anything is used.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import errors as _errors
from .errors import *  # noqa: F403
from .types import ChatChunk, ChatRequest, ChatResult, Choice, Message, ToolCall, ToolCallDelta, Usage

if TYPE_CHECKING:
    from .client import ChatClient, TokenProvider
    from .dialects import get_dialect, infer_dialect, known_dialects
    from .embeddings import EmbeddingClient
    from .rerank import RerankClient, RerankResult

__version__ = "0.1.0"

#: public name -> the module that defines it, imported when the name is first used
_LAZY = {
    "ChatClient": ".client",
    "TokenProvider": ".client",
    "get_dialect": ".dialects",
    "infer_dialect": ".dialects",
    "known_dialects": ".dialects",
    "EmbeddingClient": ".embeddings",
    "RerankClient": ".rerank",
    "RerankResult": ".rerank",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


__all__ = [
    "ChatChunk",
    "ChatClient",
    "ChatRequest",
    "ChatResult",
    "Choice",
    "EmbeddingClient",
    "Message",
    "RerankClient",
    "RerankResult",
    "TokenProvider",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "get_dialect",
    "infer_dialect",
    "known_dialects",
    *_errors.__all__,
]
