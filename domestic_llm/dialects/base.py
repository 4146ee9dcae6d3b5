"""The dialect interface: pure translation between neutral types and one HTTP API.

A dialect never does I/O. It turns a `ChatRequest` into an `HttpRequest`, a
decoded JSON body into a `ChatResult`, each stream event into `ChatChunk`s (via a
per-stream parser that owns the stream's state), and an error body into an
`ErrorInfo`. Adding a dialect means one module plus its fixtures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from ..credentials import auth_headers
from ..error_bodies import ErrorShape
from ..errors import ConfigurationError
from ..sse import SSEEvent
from ..thinking import ThinkMode
from ..types import AuthScheme, ChatChunk, ChatRequest, ChatResult, HttpRequest
from ..urls import append_path

__all__ = ["AuthScheme", "Dialect", "ErrorInfo", "HttpRequest", "ParseOptions", "StreamParser", "text_or_none"]


@dataclass(slots=True)
class ErrorInfo:
    """What a dialect could read out of an error body."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    type: str | None = None


@dataclass(slots=True)
class ParseOptions:
    """Per-model choices that affect parsing, resolved against the dialect's defaults."""

    think_tags: ThinkMode = "keep"
    think_starts_open: bool = False
    include_usage: bool = True
    strict: bool = False  # raise on an unparseable stream line instead of skipping it
    trim_role_leaks: bool = True  # drop a trailing bare role line (`\nuser\n`) leaked by a template-less server
    # per call (set by `Dialect.call_options`): stop sequences that end the answer, template
    # markers that never reach the user, and the prompt sent (for servers that echo it)
    stop: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    prompt: str | None = None


class StreamParser:
    """Per-stream state: turns events into delta chunks, and at the end one final chunk.

    `complete` tells whether the stream reached its terminator (`[DONE]` or a
    finish reason); `skipped` / `recovered` count damaged lines.
    """

    complete: bool = False
    skipped: int = 0
    recovered: int = 0

    def feed(self, event: SSEEvent) -> list[ChatChunk]:  # pragma: no cover - interface
        raise NotImplementedError

    def finish(self) -> list[ChatChunk]:  # pragma: no cover - interface
        """End of stream: held-back deltas, then exactly one chunk with `final=True`."""
        raise NotImplementedError


class Dialect:
    """Base class of every dialect; subclasses set the class attributes and override hooks."""

    name: ClassVar[str] = ""
    #: path appended to a `base_url` (OpenAI convention) to reach the chat route
    chat_path: ClassVar[str] = ""
    #: matches the path of a full endpoint URL of this dialect (for inference)
    path_pattern: ClassVar[re.Pattern[str] | None] = None
    auth_scheme: ClassVar[AuthScheme] = "bearer"
    supports_tools: ClassVar[bool] = True
    #: default handling of inline <think> tags in content
    think_tags: ClassVar[ThinkMode] = "keep"
    #: whether `stream_options.include_usage` is understood
    accepts_stream_options: ClassVar[bool] = True
    #: order in which path patterns are tried when inferring the dialect from a URL: generic
    #: paths that other dialects' paths also end with (`/chat/completions`, `/generate`) rank later
    path_rank: ClassVar[int] = 0
    #: the body field holding the conversation or prompt (tells dialects sharing a path apart in from_curl)
    input_field: ClassVar[str] = "messages"
    #: OpenAI content-part types a message may carry (`file`, `input_audio`, … only where the API takes them)
    content_part_types: ClassVar[frozenset[str]] = frozenset({"text"})
    #: error bodies this API sends with a 2xx status, tried before the common ones (`error_bodies.ERROR_SHAPES`)
    error_shapes: ClassVar[tuple[ErrorShape, ...]] = ()
    #: the thinking switch the endpoint itself imposes (a `families.THINKING_STYLES` name; "none": it has
    #: none); `None`: the server applies the model's chat template, so the model family decides
    thinking_style: ClassVar[str | None] = None
    #: understands vLLM/SGLang's `continue_final_message` (needed to enforce a thinking budget client-side)
    continues_final_message: ClassVar[bool] = False

    def chat_url(self, base_url: str) -> str:
        """The chat route under a base URL (`http://host:1025/v1` → `.../v1/chat/completions`)."""
        return append_path(base_url, self.chat_path)

    def auth_headers(self, token: str | None, scheme: AuthScheme | None = None) -> dict[str, str]:
        """Headers that carry `token` the way this dialect (or an explicit `scheme`) wants."""
        extended = auth_headers(token, scheme)  # basic, header:<Name>, query:<name>
        if extended is not None:
            return extended
        if not token:
            return {}
        scheme = scheme or self.auth_scheme
        if scheme == "bearer":
            return {"Authorization": f"Bearer {token}"}
        if scheme == "raw":
            return {"Authorization": token}
        if scheme == "x-auth-token":
            return {"X-Auth-Token": token}
        return {}

    def validate(self, request: ChatRequest) -> None:
        """Raise `ConfigurationError` for input the API is documented to reject."""

    def call_url(self, url: str, request: ChatRequest, stream: bool) -> str:
        """The URL of one call: the configured chat URL, unless the route depends on streaming or the model."""
        return url

    def call_options(self, request: ChatRequest, options: ParseOptions) -> ParseOptions:
        """The parse options of one call (prompt dialects add the stop sequences and markers of its template)."""
        return options

    def event_decoder(self) -> Any:
        """A decoder of this dialect's stream framing: `feed(bytes)` / `flush()` → events. SSE by default."""
        from ..sse import SSEDecoder

        return SSEDecoder()

    def curl_fields(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split a pasted request body into (sampling params under neutral names, extra body fields).

        The default reads the chat-completions shape; per-call fields (messages, stream) are dropped.
        """
        from ..curl import PER_CALL_FIELDS, SAMPLING_FIELDS

        params: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in body.items():
            if key in PER_CALL_FIELDS:
                continue
            if key in SAMPLING_FIELDS:
                params["max_tokens" if key == "max_completion_tokens" else key] = value
            else:
                extra[key] = value
        return params, extra

    def models_requests(self, url: str) -> list[HttpRequest]:
        """Requests that list the served models, tried in order (OpenAI's `GET .../models` by default)."""
        parts = urlsplit(url)  # a query string (?api-version=...) stays at the end
        base = re.sub(r"/chat/completions/?$", "", parts.path)
        return [HttpRequest("GET", urlunsplit(parts._replace(path=base + "/models")), {"Accept": "application/json"})]

    def parse_models(self, body: Any) -> list[str]:
        """Model ids out of a models listing (`{"data": [{"id": ...}]}`)."""
        data = body.get("data") if isinstance(body, dict) else body
        ids = []
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict) and isinstance(item.get("id") or item.get("name"), str):
                ids.append(item.get("id") or item["name"])
            elif isinstance(item, str):
                ids.append(item)
        return ids
    def check_content_parts(self, request: ChatRequest) -> None:
        """Refuse content parts (files, audio, images) this API cannot carry, before sending."""
        for i, m in enumerate(request.messages):
            if isinstance(m.content, list):
                for part in m.content:
                    kind = part.get("type") if isinstance(part, dict) else None
                    if kind not in self.content_part_types:
                        raise ConfigurationError(
                            f"messages[{i}]: a {kind!r} content part cannot be sent to the {self.name!r} dialect, "
                            f"which carries only {', '.join(sorted(self.content_part_types))}; use an endpoint "
                            "of the openai dialect (vLLM, MindIE) for files and audio"
                        )

    def build_request(
        self, request: ChatRequest, *, url: str, stream: bool, headers: dict[str, str], options: ParseOptions
    ) -> HttpRequest:  # pragma: no cover - interface
        raise NotImplementedError

    def parse_response(self, body: Any, options: ParseOptions) -> ChatResult:  # pragma: no cover
        raise NotImplementedError

    def stream_parser(self, options: ParseOptions) -> StreamParser:  # pragma: no cover
        raise NotImplementedError

    def parse_error(self, status: int, body: Any) -> ErrorInfo:
        """Read the server's own code and message out of an error body (already JSON-decoded if possible)."""
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):
                return ErrorInfo(
                    code=text_or_none(err.get("code")),
                    message=text_or_none(err.get("message")),
                    type=text_or_none(err.get("type")),
                    request_id=text_or_none(body.get("id") or body.get("request_id")),
                )
            if isinstance(err, str):
                return ErrorInfo(message=err, code=text_or_none(body.get("code")))
            msg = body.get("message") or body.get("msg") or body.get("detail")
            return ErrorInfo(code=text_or_none(body.get("code")), message=text_or_none(msg),
                             request_id=text_or_none(body.get("request_id")))
        if isinstance(body, str) and body.strip():
            return ErrorInfo(message=body.strip()[:500])
        return ErrorInfo()


def text_or_none(value: Any) -> str | None:
    """`None` stays `None`; anything else becomes its text (error codes may be numbers)."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
