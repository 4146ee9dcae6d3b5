"""LangChain integration of domestic-llm: `ChatDomestic`.

The core's exceptions are re-exported so LangChain code can catch them from here.
"""

from domestic_llm.errors import (
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

from .chat_models import ChatDomestic

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatDomestic",
    "ConfigurationError",
    "ContentFilterError",
    "ContextOverflowError",
    "DomesticLLMError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServerOverloadedError",
    "StreamInterruptedError",
    "StreamTimeoutError",
]
