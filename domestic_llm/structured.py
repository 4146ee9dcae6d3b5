"""The `json_schema` → `json_object` fallback for servers that refuse schema-constrained output.

Many OpenAI-compatible servers accept `response_format={"type": "json_object"}` but not
`{"type": "json_schema", ...}`: llama.cpp's Python server answers HTTP 500
("response_format.type must be text or json_object"), older vLLM/MindIE builds a 400.
`ChatClient` then asks once more with `json_object` and the schema written into the
instructions, and remembers that for the client only when the retry succeeds (as it
does for `stream_options`). The answer is still parsed and validated by the caller
against the schema, so a model that ignores the instructions fails loudly, not silently.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import BadRequestError, ContextOverflowError, DomesticLLMError, ServerError, redact_url
from .types import ChatRequest, Message

if TYPE_CHECKING:
    from .retry import CallState

log = logging.getLogger("domestic_llm")

#: words in an error message that show the server objected to the response format itself
_FORMAT_WORDS = ("response_format", "json_schema", "response format")


def asks_json_schema(body: dict[str, Any] | None) -> bool:
    """Whether a request body asks for schema-constrained output."""
    fmt = body.get("response_format") if isinstance(body, dict) else None
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


def refuses_json_schema(exc: DomesticLLMError, body: dict[str, Any]) -> bool:
    """Whether an error answering `body` may mean "no json_schema here".

    Yes when its message names the response format (any 4xx or 5xx: llama.cpp reports
    request validation errors as 500), or for a bare 400/422 when nothing else in the
    body is suspect (`stream_options` has its own fallback, tried first). An unrelated
    500 stays a retryable server error.
    """
    if isinstance(exc, ContextOverflowError) or not isinstance(exc, (BadRequestError, ServerError)):
        return False
    message = (exc.server_message or str(exc)).lower()
    if any(word in message for word in _FORMAT_WORDS):
        return True
    return isinstance(exc, BadRequestError) and "stream_options" not in body


def retry_as_json_object(call: CallState, url: str) -> bool:
    """Recovery step of one call: True (and `call.json_object` set) when its last attempt's error
    means the server refused `json_schema`; the call then asks once more with `json_object`."""
    exc, body = call.error, call.sent_body
    if exc is None or body is None or call.json_object or not asks_json_schema(body):
        return False
    if not refuses_json_schema(exc, body):
        return False
    log.warning("domestic_llm: %s refused response_format json_schema (%s); retrying once with json_object",
                redact_url(url), exc.server_message or type(exc).__name__)
    call.json_object = True
    return True


def json_object_request(request: ChatRequest) -> ChatRequest:
    """`request` with `json_schema` replaced by `json_object` and the schema in the system instructions
    (unchanged when it does not ask for `json_schema`)."""
    fmt = request.response_format or {}
    if fmt.get("type") != "json_schema":
        return request
    spec = fmt.get("json_schema")
    schema = (spec.get("schema") if isinstance(spec, dict) else None) or {}
    instruction = (
        "Answer with one JSON object only (no prose, no code fences) that conforms to this JSON schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )
    messages = list(request.messages)
    if messages and messages[0].role == "system" and isinstance(messages[0].content, str):
        first = messages[0]
        messages[0] = replace(first, content=f"{first.content}\n\n{instruction}" if first.content else instruction)
    else:
        messages.insert(0, Message("system", instruction))
    return replace(request, messages=messages, response_format={"type": "json_object"})
