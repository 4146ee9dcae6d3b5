"""Reading whole answers: the body within its deadline, error statuses, redirects, 2xx bodies.

Pure functions of a response and its bytes (apart from the two body readers), shared
by the sync and async paths of `ChatClient`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from .assembler import check_not_empty
from .credentials import scrub, scrub_error
from .dialects.base import Dialect, ParseOptions
from .error_bodies import error_for, recognise
from .errors import APIStatusError, APITimeoutError, DomesticLLMError, MalformedResponseError, error_class_for
from .errors import redact_url
from .jsonlenient import loads_lenient
from .retry import RetryPolicy
from .transport import map_transport_errors
from .types import ChatResult

_REQUEST_ID_HEADERS = ("x-request-id", "x-trace-id", "request-id", "x-b3-traceid", "trace-id", "x-log-id")


def header_request_id(headers: httpx.Headers) -> str | None:
    """The request/trace id a gateway put in the response headers, if any."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _too_slow(url: str, read_by: float) -> APITimeoutError:
    return APITimeoutError(f"timed out reading the answer from {redact_url(url)}: `timeout` (or `total_timeout`) "
                           "bounds the whole non-streamed answer", url=url)


def read_body_sync(resp: httpx.Response, read_by: float | None, url: str) -> bytes:
    """The whole body, or `APITimeoutError` once `read_by` (a `time.monotonic()` value) has passed."""
    parts = []
    with map_transport_errors(url):
        for piece in resp.iter_bytes():
            parts.append(piece)
            if read_by is not None and time.monotonic() > read_by:
                raise _too_slow(url, read_by)
    return b"".join(parts)


async def read_body_async(resp: httpx.Response, read_by: float | None, url: str) -> bytes:
    parts = []
    with map_transport_errors(url):
        async for piece in resp.aiter_bytes():
            parts.append(piece)
            if read_by is not None and time.monotonic() > read_by:
                raise _too_slow(url, read_by)
    return b"".join(parts)


def status_error(dialect: Dialect, resp: httpx.Response, body_bytes: bytes, token: str | None,
                 url: str) -> DomesticLLMError:
    """The error for a 4xx/5xx answer, with the server's code, message and request id, never the token."""
    try:
        body: Any = json.loads(body_bytes)
    except ValueError:
        body = body_bytes.decode("utf-8", "replace")
    info = dialect.parse_error(resp.status_code, body)
    request_id = info.request_id or header_request_id(resp.headers)
    server_message = scrub(info.message, token)
    cls = error_class_for(resp.status_code, server_message)
    text = f"{dialect.name} endpoint answered HTTP {resp.status_code}"
    if server_message:
        text += f": {server_message}"
    return cls(
        text,
        status=resp.status_code,
        code=info.code,
        server_message=server_message,
        request_id=request_id,
        url=url,
        body=body if scrub(str(body), token) == str(body) else "<redacted>",
        retry_after=RetryPolicy.parse_retry_after(resp.headers.get("retry-after")),
    )


def redirect_error(dialect_name: str, resp: httpx.Response, url: str) -> APIStatusError:
    """3xx: never followed for a POST (it would turn into a GET or lose its body); say where it pointed."""
    location = resp.headers.get("location")
    text = f"{dialect_name} endpoint answered HTTP {resp.status_code} (a redirect, not followed for POST)"
    if location:
        target = str(resp.request.url.join(location)) if resp.request is not None else location
        text += f" to {redact_url(target)}"
        if target.rstrip("/") == url.rstrip("/"):
            text += ("; the two URLs differ only by a trailing slash: use "
                     f"{redact_url(target)!r} as the endpoint")
        else:
            text += "; use that URL as the endpoint if it is the right one"
    return APIStatusError(text, status=resp.status_code, url=url, request_id=header_request_id(resp.headers))


def read_result(dialect: Dialect, options: ParseOptions, resp: httpx.Response, content: bytes, url: str,
                token: str | None = None) -> ChatResult:
    """A 2xx body as a `ChatResult`; an error body or an empty answer raises (without `token`, if the server
    echoed it)."""
    try:
        return _read_result(dialect, options, resp, content, url)
    except DomesticLLMError as exc:
        scrub_error(exc, token)
        raise


def _read_result(dialect: Dialect, options: ParseOptions, resp: httpx.Response, content: bytes, url: str) -> ChatResult:
    recovered = False
    request_id = header_request_id(resp.headers)
    try:
        body = json.loads(content)
    except ValueError:
        try:
            body, recovered = loads_lenient(content.decode("utf-8", "replace"))
        except ValueError:
            raise MalformedResponseError(
                f"{dialect.name} endpoint answered HTTP {resp.status_code} with a body that is not JSON "
                f"(content type {resp.headers.get('content-type', 'unset')!r}): {content[:200]!r}",
                status=resp.status_code, url=url, request_id=request_id,
            ) from None
    found = recognise(body, dialect.error_shapes)
    if found is not None:
        raise error_for(found, what=f"{dialect.name} endpoint answered HTTP {resp.status_code} but the body",
                        status=resp.status_code, url=url, request_id=request_id, body=body)
    try:
        result = dialect.parse_response(body, options)
    except DomesticLLMError as exc:
        exc.url = exc.url or redact_url(url)
        exc.status = exc.status or resp.status_code
        raise
    check_not_empty(result, url=url, request_id=request_id, head=content)
    if request_id:
        result.metadata.setdefault("request_id", request_id)
    if recovered:
        result.metadata["recovered_body"] = True
    return result
