"""What a server serves: `GET /v1/models` (vLLM, MindIE, SGLang, llama.cpp, the emulator).

`ChatClient.list_models()` gives the ids; `fetch_served_models(client)` asks the
same OpenAI-style route (the chat URL with `/chat/completions` replaced by
`/models`) with the client's own transport and credentials and keeps each entry's
fields: vLLM reports a model's context length as `max_model_len`, which
`context_window_of` reads for one model name.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .credentials import with_query_credential
from .errors import MalformedResponseError, error_class_for

CHAT_SUFFIX = "/chat/completions"


@dataclass
class ServedModel:
    """One entry of `/v1/models`."""

    id: str
    max_model_len: int | None = None
    owned_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def models_url(chat_url: str) -> str | None:
    """The models route next to an OpenAI-style chat route; `None` when the path is not one."""
    parts = urlsplit(chat_url)
    path = parts.path.rstrip("/")
    if not path.endswith(CHAT_SUFFIX):
        return None
    return urlunsplit(parts._replace(path=path[: -len(CHAT_SUFFIX)] + "/models"))


def parse_models(body: Any) -> list[ServedModel]:
    """`ServedModel`s from a `/v1/models` body (`{"data": [...]}`); fields of the wrong type are dropped."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise MalformedResponseError(f"/v1/models answered without a 'data' list: {str(body)[:200]!r}")
    out = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        length = entry.get("max_model_len")
        owner = entry.get("owned_by")
        out.append(ServedModel(entry["id"], length if isinstance(length, int) and length > 0 else None,
                               owner if isinstance(owner, str) else None, entry))
    return out


def fetch_served_models(client: Any) -> list[ServedModel]:
    """The models a `ChatClient`'s server serves (one GET, no retries)."""
    if models_url(client.url) is None:
        raise MalformedResponseError(f"the {client.dialect.name} endpoint has no OpenAI-style /v1/models route")
    http = client.dialect.models_requests(client.url)[0]  # the same route as ChatClient.list_models
    token = client._token_sync(False)
    http.headers.update(client.dialect.auth_headers(token, client.auth_scheme))
    url = http.url
    http.url = with_query_credential(url, client.auth_scheme, token)
    resp = client.transport.send(http)
    with closing(resp):
        resp.read()
    if resp.status_code >= 400:
        raise error_class_for(resp.status_code)(f"GET /v1/models answered HTTP {resp.status_code}",
                                                status=resp.status_code, url=url)
    try:
        body = json.loads(resp.content)
    except ValueError:
        raise MalformedResponseError(f"GET /v1/models answered with a body that is not JSON: {resp.text[:200]!r}",
                                     url=url) from None
    return parse_models(body)


def context_window_of(client: Any, model: str) -> int | None:
    """`max_model_len` of `model` (or of the only model served) from `/v1/models`; `None` if not reported."""
    served = fetch_served_models(client)
    for entry in served:
        if entry.id == model:
            return entry.max_model_len
    return served[0].max_model_len if len(served) == 1 else None


__all__ = ["ServedModel", "context_window_of", "fetch_served_models", "models_url", "parse_models"]
