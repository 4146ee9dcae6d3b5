"""Which models a server serves: `list_models`, and the hint added to a "model not found" 404."""

from __future__ import annotations

import json
from contextlib import closing
from typing import TYPE_CHECKING

from .answers import read_body_async, read_body_sync, status_error
from .credentials import with_query_credential
from .errors import DomesticLLMError

if TYPE_CHECKING:
    from .client import ChatClient


def list_models(client: ChatClient) -> list[str]:
    """Ids of the models the server serves (`/v1/models`; TGI `/info`; Triton's repository index)."""
    token = client._token_sync(False)
    last: DomesticLLMError | None = None
    for http in client.dialect.models_requests(client.url):
        http.headers.update(client.dialect.auth_headers(token, client.auth_scheme))
        http.url = with_query_credential(http.url, client.auth_scheme, token)
        resp = client.transport.send(http)
        with closing(resp):
            body = read_body_sync(resp, None, http.url)
        if resp.status_code < 400:
            return client.dialect.parse_models(json.loads(body))
        last = status_error(client.dialect, resp, body, token, client.url)
    assert last is not None
    raise last


async def alist_models(client: ChatClient) -> list[str]:
    """`list_models`, natively async."""
    token = await client._token_async(False)
    last: DomesticLLMError | None = None
    for http in client.dialect.models_requests(client.url):
        http.headers.update(client.dialect.auth_headers(token, client.auth_scheme))
        http.url = with_query_credential(http.url, client.auth_scheme, token)
        resp = await client.transport.asend(http)
        try:
            body = await read_body_async(resp, None, http.url)
        finally:
            await resp.aclose()
        if resp.status_code < 400:
            return client.dialect.parse_models(json.loads(body))
        last = status_error(client.dialect, resp, body, token, client.url)
    assert last is not None
    raise last


def served_models_hint(client: ChatClient) -> list[str] | None:
    try:
        return list_models(client)
    except (DomesticLLMError, ValueError):
        return None  # the hint is a courtesy: the original error is what matters


async def aserved_models_hint(client: ChatClient) -> list[str] | None:
    try:
        return await alist_models(client)
    except (DomesticLLMError, ValueError):
        return None


def model_missing(exc: DomesticLLMError) -> bool:
    """A 404 whose message says the requested model does not exist."""
    text = (exc.server_message or "").lower()
    return exc.status == 404 and "model" in text and (
        "does not exist" in text or "not found" in text or "not exist" in text)


def with_served_models(exc: DomesticLLMError, served: list[str] | None) -> DomesticLLMError:
    if served:
        exc.served_models = served  # type: ignore[attr-defined]
        exc.args = (f"{exc.args[0]}; the server serves: {', '.join(served)}", *exc.args[1:])
    return exc
