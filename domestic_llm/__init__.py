"""domestic-llm core: neutral types, dialects, transport and client. Imports no framework."""

from .client import ChatClient, TokenProvider
from .dialects import get_dialect, infer_dialect, known_dialects
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    ContextOverflowError,
    DomesticLLMError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServerOverloadedError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from .types import ChatChunk, ChatRequest, ChatResult, Choice, Message, ToolCall, ToolCallDelta, Usage

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatChunk",
    "ChatClient",
    "ChatRequest",
    "ChatResult",
    "Choice",
    "ConfigurationError",
    "ContentFilterError",
    "ContextOverflowError",
    "DomesticLLMError",
    "MalformedResponseError",
    "Message",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServerOverloadedError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "TokenProvider",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "get_dialect",
    "infer_dialect",
    "known_dialects",
]
