"""Configuration from a pasted curl command, as vendor documents print them.

`client_kwargs_from_curl(text)` returns the keyword arguments for `ChatClient`
(and, with the same names, `ChatDomestic` / `DomesticLLM`): the URL as
`endpoint` (the dialect is inferred from its path), the secret and how it is
sent, the model, sampling parameters from the body, other body fields as extra
fields, and any non-noise headers. `stream` and `messages` in the body are
dropped: they belong to each call, not to the model.
"""

from __future__ import annotations

import shlex
from typing import Any

from .config import SAMPLING_PARAMS
from .errors import ConfigurationError
from .jsonlenient import loads_lenient

# headers a client sets itself or that only describe one captured request
NOISE_HEADERS = {"content-length", "host", "postman-token", "cache-control", "connection", "user-agent",
                 "accept-encoding", "content-type", "accept"}
SAMPLING_FIELDS = {*SAMPLING_PARAMS, "max_completion_tokens"}  # lm_v2 names max_tokens so
PER_CALL_FIELDS = {"messages", "stream", "stream_options", "model"}


def parse_curl(text: str) -> tuple[str, dict[str, str], Any]:
    """`(url, headers, body)` from a curl command (multi-line with `\\` continuations is fine)."""
    joined = text.replace("\\\r\n", " ").replace("\\\n", " ")
    try:
        tokens = shlex.split(joined)
    except ValueError as exc:
        raise ConfigurationError(f"curl command could not be parsed ({exc}); paste it whole, quotes included") from None
    if not tokens or tokens[0] != "curl":
        raise ConfigurationError("from_curl expects a command that starts with 'curl'")
    url = None
    headers: dict[str, str] = {}
    data = None
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok in ("-H", "--header") and nxt is not None:
            name, _, value = nxt.partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif tok in ("-d", "--data", "--data-raw", "--data-binary", "--data-ascii") and nxt is not None:
            data = nxt
            i += 2
        elif tok in ("-X", "--request", "-u", "--user", "-o", "--output", "-m", "--max-time") and nxt is not None:
            i += 2
        elif tok == "--url" and nxt is not None:
            url = nxt
            i += 2
        elif "://" in tok and not tok.startswith("-"):
            url = tok.strip("'\"")
            i += 1
        else:
            i += 1
    if url is None:
        raise ConfigurationError("the curl command has no http:// or https:// URL")
    if not url.startswith(("http://", "https://")) or any(mark in url for mark in ("[host]", "{", "http(s)")):
        raise ConfigurationError(
            f"the curl command's URL {url!r} is a template: fill in the scheme, host and port "
            "(e.g. http://10.0.0.5:8080/...) before passing it to from_curl"
        )
    body = None
    if data is not None:
        try:
            body, _ = loads_lenient(data)
        except ValueError:
            raise ConfigurationError(f"the curl body (-d) is not JSON: {data[:120]!r}") from None
    return url, headers, body


def client_kwargs_from_curl(text: str) -> dict[str, Any]:
    """Keyword arguments for `ChatClient` / `ChatDomestic` from a curl command."""
    url, headers, body = parse_curl(text)
    kwargs: dict[str, Any] = {"endpoint": url}
    extra_headers = {}
    for name, value in headers.items():
        low = name.lower()
        if low == "authorization":
            if value.lower().startswith("bearer "):
                kwargs["api_key"], kwargs["auth_scheme"] = value[7:].strip(), "bearer"
            else:
                kwargs["api_key"], kwargs["auth_scheme"] = value, "raw"
        elif low == "x-auth-token":
            kwargs["api_key"], kwargs["auth_scheme"] = value, "x-auth-token"
        elif low not in NOISE_HEADERS:
            extra_headers[name] = value
    if extra_headers:
        kwargs["default_headers"] = extra_headers
    if isinstance(body, dict):
        if isinstance(body.get("model"), str):
            kwargs["model"] = body["model"]
        from .dialects import get_dialect, infer_dialect

        # each dialect reads its own body shape (messages, inputs + parameters, prompt, text_input)
        dialect = infer_dialect(url, body) or get_dialect("openai")
        if dialect.path_rank and dialect is not infer_dialect(url):
            kwargs["dialect"] = dialect.name  # the path alone would have said otherwise
        params, extra = dialect.curl_fields(body)
        if params:
            kwargs["params"] = params
        if extra:
            kwargs["model_kwargs"] = extra
    return kwargs


__all__ = ["client_kwargs_from_curl", "parse_curl"]
