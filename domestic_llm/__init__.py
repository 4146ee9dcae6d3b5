"""domestic-llm core: neutral types, dialects, transport and client. Imports no framework."""

from .client import ChatClient, TokenProvider
from .dialects import get_dialect, infer_dialect, known_dialects
from .embeddings import EmbeddingClient
from .rerank import RerankClient, RerankResult
from . import errors as _errors
from .errors import *  # noqa: F403
from .types import ChatChunk, ChatRequest, ChatResult, Choice, Message, ToolCall, ToolCallDelta, Usage

__version__ = "0.1.0"

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
