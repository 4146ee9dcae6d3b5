"""LlamaIndex integration of domestic-llm: `DomesticLLM`.

The core's exceptions are re-exported so LlamaIndex code can catch them from here.
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

from .base import DomesticLLM

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextOverflowError",
    "DomesticLLM",
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
