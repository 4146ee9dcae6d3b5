"""Credentials wherever a vendor document puts them, kept out of every output.

Gateways take the key in many places: `Authorization` (Bearer or raw), a custom
header (`apikey`, `X-Api-Key`, `X-Auth-Token`, …), a URL query parameter
(`?access_token=…`), or HTTP basic auth (`curl -u user:pass`). Whatever the
place, the key ends up in one secret (`api_key`) plus an `auth_scheme` that
says where to send it:

| `auth_scheme` | sent as |
|---|---|
| `bearer` | `Authorization: Bearer <key>` |
| `raw` | `Authorization: <key>` |
| `x-auth-token` | `X-Auth-Token: <key>` |
| `basic` | `Authorization: Basic base64(<key>)`, the key being `user:password` |
| `header:<Name>` | `<Name>: <key>` |
| `query:<name>` | `?<name>=<key>` appended to the URL of each request |
| `none` | not sent |

`lift_credentials` moves a key found in a URL or in `default_headers` into that
form, so configuration objects hold URLs and headers without secrets; further
key-like headers stay headers but are flagged secret (`secret_header_names`).
httpx logs every request URL at INFO level (`HTTP Request: POST …`); the
`query:` scheme puts the key there, so `redact_httpx_log()` installs a filter
on the `httpx` logger that removes credential-looking query parameters.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import ConfigurationError, DomesticLLMError, is_credential_name, redact_url

log = logging.getLogger("domestic_llm")

#: header names that carry a credential (compared lower-case); other names are judged by `is_credential_name`
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "apikey", "api-key", "x-api-key", "x-auth-token", "token",
    "x-token", "access-token", "x-access-token", "ocp-apim-subscription-key", "cookie",
})
FIXED_SCHEMES = ("bearer", "raw", "x-auth-token", "basic", "none")


def is_secret_header(name: str) -> bool:
    """Whether a header of this name carries a credential (and must never be shown)."""
    low = name.strip().lower()
    return low in SECRET_HEADERS or is_credential_name(low)


def check_auth_scheme(scheme: str | None) -> None:
    """Raise `ConfigurationError` unless `scheme` is one of the forms in the module docstring."""
    if scheme is None or scheme in FIXED_SCHEMES:
        return
    kind, _, name = scheme.partition(":")
    if kind in ("header", "query") and name.strip() and name == name.strip():
        return
    raise ConfigurationError(
        f"auth_scheme={scheme!r} must be one of {', '.join(FIXED_SCHEMES)}, 'header:<Header-Name>' "
        "or 'query:<parameter>'"
    )


def auth_headers(token: str | None, scheme: str | None) -> dict[str, str] | None:
    """Headers for the schemes defined here (`basic`, `header:…`, `query:…`); `None` for the dialect's own."""
    if scheme == "basic":
        return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()} if token else {}
    if scheme and scheme.startswith("header:"):
        return {scheme[7:]: token} if token else {}
    if scheme and scheme.startswith("query:"):
        return {}  # see with_query_credential
    return None


def with_query_credential(url: str, scheme: str | None, token: str | None) -> str:
    """`url` with the key appended as a query parameter when `scheme` is `query:<name>`."""
    if not token or not scheme or not scheme.startswith("query:"):
        return url
    parts = urlsplit(url)
    extra = urlencode({scheme[6:]: token})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def secret_value(value: Any) -> Any:
    """The plain value of a pydantic `SecretStr` (or the value itself)."""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def secret_forms(token: str | None) -> list[str]:
    """The ways a key may show up in text a server echoes: itself, a `user:password` key's password, base64."""
    if not token:
        return []
    forms = [token, base64.b64encode(token.encode()).decode()]
    user, sep, password = token.partition(":")
    if sep and len(password) >= 4:
        forms.append(password)
    return forms


def scrub(text: str | None, token: str | None) -> str | None:
    """`text` with every form of `token` replaced by `***`."""
    if text:
        for form in secret_forms(token):
            text = text.replace(form, "***")
    return text


def scrub_error(exc: DomesticLLMError, token: str | None) -> DomesticLLMError:
    """`exc` with every form of `token` removed from its message, server message and body.

    For errors built from what a server sent in a 2xx body or a stream (gateways echo the
    key they rejected); errors from 4xx/5xx answers are built scrubbed (`answers.status_error`).
    """
    if not token:
        return exc
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (scrub(exc.args[0], token), *exc.args[1:])
    exc.server_message = scrub(exc.server_message, token)
    if exc.body is not None and scrub(str(exc.body), token) != str(exc.body):
        exc.body = "<redacted>"
    return exc


def _scheme_for_header(name: str, value: str) -> tuple[str, str]:
    low = name.lower()
    if low == "authorization":
        if value[:7].lower() == "bearer ":
            return "bearer", value[7:].strip()
        return "raw", value
    if low == "x-auth-token":
        return "x-auth-token", value
    return f"header:{name}", value


@dataclass
class Lifted:
    """Where the credentials of a configuration went (see `lift_credentials`)."""

    url: str | None
    api_key: str | None
    auth_scheme: str | None
    headers: dict[str, Any] | None
    secret_headers: list[str] = field(default_factory=list)


def lift_credentials(
    url: str | None,
    headers: dict[str, Any] | None,
    api_key: str | None,
    auth_scheme: str | None,
    *,
    has_token_provider: bool = False,
    url_name: str = "endpoint",
) -> Lifted:
    """Move a key out of the URL's query or out of `headers` into `api_key` + `auth_scheme`.

    Only when no key was given otherwise (`api_key`, `token_provider`, an explicit
    `auth_scheme`): the first key-like header (`Authorization` first) or else the
    first credential query parameter becomes the key. Further key-like headers stay
    in `headers` and are listed in `secret_headers`. A credential left in the URL
    beside another key is refused rather than shown in every repr and log.
    """
    query_creds: list[tuple[str, str]] = []
    if url and "?" in url:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query_creds = [(k, v) for k, v in pairs if is_credential_name(k.lower())]
        if query_creds:
            kept = [(k, v) for k, v in pairs if not is_credential_name(k.lower())]
            url = urlunsplit(parts._replace(query=urlencode(kept)))
    headers = dict(headers) if headers else None
    secret = sorted((h for h in headers or () if is_secret_header(h)), key=lambda h: h.lower() != "authorization")
    free = api_key is None and not has_token_provider and auth_scheme is None
    if free and secret:
        assert headers is not None
        name = secret.pop(0)
        auth_scheme, api_key = _scheme_for_header(name, str(secret_value(headers.pop(name))))
        free = False
    if query_creds:
        if not free or len(query_creds) > 1:
            names = ", ".join(f"{k}=***" for k, _ in query_creds)
            raise ConfigurationError(
                f"{url_name} carries a credential in its query ({names}) and another key is configured "
                "(api_key, token_provider, auth_scheme or a key header); pass one key: remove it from the URL, "
                "or pass it as api_key=... with auth_scheme='query:<name>'"
            )
        name, api_key = query_creds[0]
        auth_scheme = f"query:{name}"
    return Lifted(url, api_key, auth_scheme, headers or None, secret)


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, ::1) — parsed, not prefix-matched."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name such as 127.evil.example.com is resolved elsewhere: not loopback


def warn_plain_http(url: str, credential: str | None) -> None:
    """Warn once per client when a credential (named by its source) would cross a network unencrypted."""
    if credential and url.lower().startswith("http://") and not is_loopback(url):
        log.warning(
            "domestic_llm: sending a credential (%s) over plain http:// to %s; use https:// if the network is shared",
            credential, redact_url(url),
        )


class _RedactURLs(logging.Filter):
    """Removes credential query parameters from the URLs in httpx's request log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any("://" in str(a) for a in args):
            record.args = tuple(redact_url(str(a)) if "://" in str(a) else a for a in args)
        return True


_FILTER = _RedactURLs()


def redact_httpx_log() -> None:
    """Install the redacting filter on the `httpx` logger (idempotent)."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


__all__ = [
    "Lifted",
    "auth_headers",
    "check_auth_scheme",
    "is_loopback",
    "is_secret_header",
    "lift_credentials",
    "scrub",
    "secret_forms",
    "redact_httpx_log",
    "warn_plain_http",
    "with_query_credential",
]
