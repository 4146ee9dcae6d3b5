"""One exception hierarchy for every dialect.

Every error carries what a person needs to act on it — HTTP status, the server's
own error code and message, the request/trace id, and the URL with credentials
removed — and never the secret. All are ordinary `Exception` subclasses, so
LangChain's `with_retry(retry_if_exception_type=...)` and `with_fallbacks` work;
the retryable ones are `RateLimitError`, `ServerOverloadedError`,
`ServerError`, `APITimeoutError` and `APIConnectionError`.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextOverflowError",
    "DomesticLLMError",
    "InputTooLongError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ServerOverloadedError",
    "StreamInterruptedError",
    "StreamTimeoutError",
]


_CREDENTIAL_HINTS = ("key", "token", "secret", "sign", "auth", "password", "passwd", "credential")


def is_credential_name(name: str) -> bool:
    """Whether a (lower-case) query-parameter or header name looks like it carries a credential."""
    return any(hint in name for hint in _CREDENTIAL_HINTS)


@functools.lru_cache(maxsize=64)  # a pure function of a few long-lived URLs; called per call for traces
def redact_url(url: str) -> str:
    """Remove user-info and credential-looking query parameters from a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        kept = []
        for pair in query.split("&"):
            key = pair.split("=", 1)[0].lower()
            if is_credential_name(key):
                kept.append(f"{pair.split('=', 1)[0]}=***")
            else:
                kept.append(pair)
        query = "&".join(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class DomesticLLMError(Exception):
    """Base class of every error this package raises."""

    retryable: bool = False
    #: what a stream had delivered when the error arrived (set on errors raised mid-stream)
    partial_text: str = ""
    partial_reasoning: str = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        server_message: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.server_message = server_message
        self.request_id = request_id
        self.url = redact_url(url) if url else None
        self.body = body
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else type(self).__name__]
        details = []
        if self.status is not None:
            details.append(f"status {self.status}")
        if self.code:
            details.append(f"code {self.code}")
        if self.server_message and self.server_message not in parts[0]:
            details.append(f"server said: {self.server_message}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        if self.url and self.url not in parts[0]:
            details.append(f"url {self.url}")
        if details:
            parts.append("(" + "; ".join(details) + ")")
        return " ".join(parts)


class ConfigurationError(DomesticLLMError, ValueError):
    """Bad input caught before any request was sent."""


class APIStatusError(DomesticLLMError):
    """The server answered with an error status or error body.

    `retry_after` holds the seconds of the server's `Retry-After` header, if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400/422: the server rejected the request as malformed."""


class AuthenticationError(APIStatusError):
    """401: the key or token is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials are valid but not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: wrong URL, path or model name."""


class ContextOverflowError(BadRequestError):
    """The prompt plus `max_tokens` exceeds the model's context window."""


class InputTooLongError(ContextOverflowError):
    """An embedding or rerank input is longer than the model accepts; `index` is its position."""

    def __init__(self, message: str, *, index: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.index = index


class RateLimitError(APIStatusError):
    """429: too many requests."""

    retryable = True


class ContentFilterError(APIStatusError):
    """The gateway's moderation refused the request."""


class ServerError(APIStatusError):
    """5xx: the server failed."""

    retryable = True


class ServerOverloadedError(ServerError):
    """503 or a dialect's own overload signal (e.g. `insufficient_system_resource`)."""


class APITimeoutError(DomesticLLMError):
    """Connect, read or stream-stall timeout."""

    retryable = True


class APIConnectionError(DomesticLLMError):
    """The server could not be reached or dropped the connection before answering."""

    retryable = True


class StreamInterruptedError(DomesticLLMError):
    """A stream ended before its terminator; `partial_text` holds what arrived."""

    def __init__(self, message: str, *, partial_text: str = "", partial_reasoning: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.partial_text = partial_text
        self.partial_reasoning = partial_reasoning


class StreamTimeoutError(StreamInterruptedError, APITimeoutError):
    """A stream stalled: no data within `stall_timeout` (or a read timed out) after it began."""


class MalformedResponseError(DomesticLLMError):
    """The server's answer could not be understood."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ServerError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
    503: ServerOverloadedError,
}

_CONTEXT_HINTS = ("context length", "context_length", "maximum context", "too long", "max_model_len", "上下文")


def error_class_for(status: int, message: str | None = None) -> type[APIStatusError]:
    """The exception class for an HTTP status (and message, for context overflow)."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIStatusError
    if cls is BadRequestError and message and any(h in message.lower() for h in _CONTEXT_HINTS):
        cls = ContextOverflowError
    return cls
