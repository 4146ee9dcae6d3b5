"""Errors that arrive as answers: recognising an error body in a 2xx response or a stream event.

Chinese gateways very often answer HTTP 200 and put the failure in the body. Before
a dialect's success parser sees a 2xx body or a stream event, `recognise` matches
it against `ERROR_SHAPES` (the dialect's own `error_shapes` first) and the client
raises the matching `DomesticLLMError` subclass with the server's code and message.

The shapes are data. Each names a *marker* key, the marker values that mean
success (anything else means error) or, for an `object` marker, the values that
mean error; and where the code, message and details are. A body
that carries non-empty `choices` is an answer whatever else it has. Known shapes:

| shape | example |
|---|---|
| `openai` | `{"error": {"code": …, "message": …, "type": …}}` or `{"error": "text"}` |
| `vllm` | `{"object": "error", "message": …, "code": 400}` |
| `success_flag` | `{"success": false, "errorCode": …, "errorMsg": …}` |
| `error_code` | `{"error_code": …, "error_msg": …}` (Huawei, Baidu) |
| `code_msg` | `{"code": 500, "msg": "推理服务繁忙"}`, `{"code": …, "message": …, "data": null}` |

A dialect adds its own by setting `error_shapes` (a tuple of `ErrorShape`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import APIStatusError, DomesticLLMError, error_class_for

#: marker values that mean "no error" (a `code` of 0 or 200 and the like)
_OK_CODES = (None, 0, "0", 200, "200", "", "success", "SUCCESS", "ok", "OK", "Success")
_REQUEST_ID_KEYS = ("request_id", "requestId", "id", "trace_id", "traceId", "globalTraceId", "log_id")


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """One way of reporting an error inside an otherwise successful answer."""

    name: str
    marker: str  # the key whose presence marks the shape
    ok: tuple[Any, ...] = ()  # marker values meaning success; any other value means error ...
    errors: tuple[Any, ...] | None = None  # ... unless given: then only these values mean error
    code_keys: tuple[str, ...] = ("code",)
    message_keys: tuple[str, ...] = ("message", "msg")
    nested: bool = False  # the marker's value is an object holding code / message / type
    details_key: str | None = None  # extra detail appended to the message
    code_status: tuple[tuple[str, int], ...] = ()  # HTTP status of non-numeric codes, e.g. ("validation", 400)
    hint: str = ""  # text every matching event contains (default `"<marker>"`): events without any hint skip parsing

    def hint_text(self) -> str:
        return self.hint or f'"{self.marker}"'

    def matches(self, value: Any) -> bool:
        return value in self.errors if self.errors is not None else value not in self.ok


ERROR_SHAPES: tuple[ErrorShape, ...] = (
    ErrorShape("openai", "error", ok=(None, "", {}, False), nested=True),
    ErrorShape("vllm", "object", errors=("error",), hint='"error"'),
    ErrorShape("success_flag", "success", ok=(True, "true", None), code_keys=("errorCode", "error_code", "code"),
               message_keys=("errorMsg", "error_msg", "message", "msg")),
    ErrorShape("error_code", "error_code", ok=_OK_CODES, code_keys=("error_code",),
               message_keys=("error_msg", "message", "msg"), details_key="details"),
    ErrorShape("code_msg", "code", ok=_OK_CODES, message_keys=("msg", "message", "error", "detail", "errorMsg")),
)


@dataclass(frozen=True, slots=True)
class RecognisedError:
    """What was read out of an error body."""

    shape: str
    code: str | None
    message: str | None
    request_id: str | None
    status: int  # an HTTP-like status for choosing the exception class


def _first(obj: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = obj.get(key)
        if value not in (None, ""):
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _status_of(code: Any) -> int:
    """An HTTP status for a server's error code: the code itself when it is one, else 500."""
    if isinstance(code, (int, str)) and not isinstance(code, bool) and str(code).isdigit():
        number = int(code)
        if 400 <= number < 600:
            return number
    return 500


def hints(extra: Sequence[ErrorShape] = ()) -> tuple[str, ...]:
    """Substrings of which a stream event must contain one to be worth checking for an error."""
    return tuple(dict.fromkeys(shape.hint_text() for shape in (*extra, *ERROR_SHAPES)))


def recognise(obj: Any, extra: Sequence[ErrorShape] = ()) -> RecognisedError | None:
    """The error reported by a decoded body or stream event, or `None` if it is not one."""
    if not isinstance(obj, dict) or obj.get("choices"):
        return None
    for shape in (*extra, *ERROR_SHAPES):
        if shape.marker not in obj:
            continue
        value = obj[shape.marker]
        if not shape.matches(value):
            continue
        source = value if shape.nested and isinstance(value, dict) else obj
        code = _first(source, shape.code_keys)
        message = _first(source, shape.message_keys)
        if shape.nested and isinstance(value, str):
            message = value
        details = obj.get(shape.details_key) if shape.details_key else None
        if details:
            message = f"{_text(message)} (details: {(_text(details) or '')[:300]})"
        request_id = _first(obj, _REQUEST_ID_KEYS)
        status = dict(shape.code_status).get(_text(code) or "") or _status_of(code)
        return RecognisedError(shape.name, _text(code), _text(message), _text(request_id), status)
    return None


def error_for(found: RecognisedError, *, what: str, status: int | None, url: str | None,
              request_id: str | None, body: Any) -> DomesticLLMError:
    """The exception for a recognised error body; `what` says where it was (for the message)."""
    cls: type[APIStatusError] = error_class_for(found.status, found.message)
    text = f"{what} reports an error"
    if found.message:
        text += f": {found.message}"
    return cls(text, status=status, code=found.code, server_message=found.message,
               request_id=found.request_id or request_id, url=url, body=body)
