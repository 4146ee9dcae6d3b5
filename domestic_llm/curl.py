"""Configuration from a pasted curl command, as vendor documents print them.

`client_kwargs_from_curl(text)` returns the keyword arguments for `ChatClient`
(and, with the same names, `ChatDomestic` / `DomesticLLM`): the URL as
`endpoint` (the dialect is inferred from its path), the secret and how it is
sent, the model, sampling parameters from the body, other body fields as extra
fields, and any non-noise headers. `stream` and `messages` in the body are
dropped: they belong to each call, not to the model.
"""

from __future__ import annotations

import logging
import shlex
from typing import Any

from .config import SAMPLING_PARAMS
from .credentials import lift_credentials
from .errors import ConfigurationError, redact_url
from .jsonlenient import loads_lenient

log = logging.getLogger("domestic_llm")

# headers a client sets itself or that only describe one captured request
NOISE_HEADERS = {"content-length", "host", "postman-token", "cache-control", "connection", "user-agent",
                 "accept-encoding", "content-type", "accept"}
SAMPLING_FIELDS = {*SAMPLING_PARAMS, "max_completion_tokens"}  # lm_v2 names max_tokens so
PER_CALL_FIELDS = {"messages", "stream", "stream_options", "model"}
# single-letter curl flags without an argument, which may be grouped (`-sSk`)
_NO_ARG_FLAGS = set("sSkLviNfg#")


def parse_curl(text: str) -> tuple[str, dict[str, str], Any]:
    """`(url, headers, body)` from a curl command (multi-line with `\\` continuations is fine)."""
    url, headers, body, _ = _parse(text)
    return url, headers, body


def _parse(text: str) -> tuple[str, dict[str, str], Any, dict[str, Any]]:
    """`(url, headers, body, transport)`; `transport` holds `verify` and the `-u` credentials."""
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
    transport: dict[str, Any] = {}
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok in ("-H", "--header") and nxt is not None:
            name, _, value = nxt.partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif tok in ("-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--json") and nxt is not None:
            data = nxt
            i += 2
        elif tok in ("-u", "--user") and nxt is not None:
            transport["basic"] = nxt
            i += 2
        elif tok == "--cacert" and nxt is not None or tok == "--capath" and nxt is not None:
            transport["verify"] = nxt
            i += 2
        elif tok in ("-k", "--insecure") or (tok[:1] == "-" and tok[1:2] != "-" and "k" in tok and set(tok[1:]) <= _NO_ARG_FLAGS):
            transport["insecure"] = True
            i += 1
        elif tok in ("-X", "--request", "-o", "--output", "-m", "--max-time") and nxt is not None:
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
    return url, headers, body, transport


def client_kwargs_from_curl(text: str) -> dict[str, Any]:
    """Keyword arguments for `ChatClient` / `ChatDomestic` from a curl command.

    The key, wherever the command puts it (`Authorization`, `apikey`, `X-Api-Key`, any
    key-like header, `?access_token=` in the URL, `-u user:password`), becomes `api_key`
    plus the `auth_scheme` that sends it the same way (see `domestic_llm.credentials`).
    `-k`/`--insecure` gives `verify=False` (with a warning), `--cacert FILE` `verify=FILE`.
    """
    url, headers, body, transport = _parse(text)
    kept = {name: value for name, value in headers.items() if name.lower() not in NOISE_HEADERS}
    basic = transport.get("basic")
    lifted = lift_credentials(url, kept, basic, "basic" if basic is not None else None, url_name="the curl URL")
    kwargs: dict[str, Any] = {"endpoint": lifted.url or url}
    if lifted.api_key is not None:
        kwargs["api_key"], kwargs["auth_scheme"] = lifted.api_key, lifted.auth_scheme
    if lifted.headers:
        kwargs["default_headers"] = lifted.headers
    if "verify" in transport:
        kwargs["verify"] = transport["verify"]
    elif transport.get("insecure"):
        log.warning("domestic_llm: the curl command says -k/--insecure: TLS certificates of %s will not be verified "
                    "(pass verify='ca.pem' instead to trust a private CA)", redact_url(kwargs["endpoint"]))
        kwargs["verify"] = False
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
