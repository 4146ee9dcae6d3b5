"""Exit codes and the one-line explanation (with the fix) of every error the CLI can meet.

A person at a terminal needs to know what went wrong and what to do, in one line;
scripts need a distinct exit code per kind of failure. Tracebacks only with `--debug`.
"""

from __future__ import annotations

import re

import httpx

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    ContextOverflowError,
    DomesticLLMError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
    redact_url,
)

EXIT_OK = 0
EXIT_FAILURE = 1  # an unexpected internal error (a bug: rerun with --debug and report it)
EXIT_USAGE = 2  # bad flags, bad URL, missing model; nothing was sent (click uses 2 for usage errors too)
EXIT_CONNECTION = 3  # refused, DNS, TLS, proxy: the server was not reached
EXIT_AUTH = 4  # 401 / 403: the key or token
EXIT_SERVER = 5  # the server answered with an error, a broken stream or an unreadable body
EXIT_TIMEOUT = 6  # connect, read or stream-stall timeout
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 2 usage (bad flag, URL or missing model), 3 connection (refused, DNS, TLS), "
    "4 auth (401/403), 5 server error (4xx/5xx, broken stream), 6 timeout, 1 internal error."
)


class CLIError(Exception):
    """A failure the CLI explains itself: a one-line message and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_url(label: str, url: str) -> httpx.URL:
    """The parsed URL, or a usage error saying what is wrong with it (before anything is sent)."""
    if not url.startswith(("http://", "https://")):
        raise CLIError(f"{label} {redact_url(url)!r} must start with http:// or https:// "
                       "(e.g. http://10.0.0.5:1025/v1)")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise CLIError(f"{label} {redact_url(url)!r} is not a valid URL ({exc}); fix the host or port") from None
    if not parsed.host:
        raise CLIError(f"{label} {redact_url(url)!r} has no host name (e.g. http://10.0.0.5:1025/v1)")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise CLIError(f"{label} {redact_url(url)!r} is not a valid URL (port {parsed.port} is not in 1..65535)")
    return parsed


def one_line(text: str, limit: int = 400) -> str:
    """Collapse whitespace (server messages can span lines) and cap the length."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host_port(url: str | None) -> str:
    if not url:
        return "the server"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return redact_url(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.host}:{port}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def explain(exc: BaseException) -> tuple[str, int]:
    """`(one-line message with the fix, exit code)` for an exception; never contains the secret.

    The core's errors already carry no secret (status, server code/message, request id,
    redacted URL); this adds what to do about them.
    """
    if isinstance(exc, CLIError):
        return one_line(str(exc)), exc.exit_code
    if isinstance(exc, ConfigurationError):
        return one_line(f"{exc}"), EXIT_USAGE
    if isinstance(exc, (StreamTimeoutError,)):
        return one_line(f"{exc} — the server stopped sending mid-answer; retry, or raise --timeout"), EXIT_TIMEOUT
    if isinstance(exc, APITimeoutError):
        where = _host_port(exc.url)
        if any(isinstance(e, httpx.ConnectTimeout) for e in _chain(exc)):
            return (one_line(f"timed out connecting to {where} ({exc.url}) — check the host/port, VPN or firewall, "
                             "and HTTP(S)_PROXY / NO_PROXY"), EXIT_TIMEOUT)
        return (one_line(f"timed out waiting for {where} ({exc.url}) — the server is slow or stuck; "
                         "raise --timeout SECONDS or try a shorter prompt"), EXIT_TIMEOUT)
    if isinstance(exc, APIConnectionError):
        return _explain_connection(exc), EXIT_CONNECTION
    if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
        what = "rejected the key" if isinstance(exc, AuthenticationError) else "refused this key access"
        fix = ("pass the right key with --api-key or DOMESTIC_LLM_API_KEY (for a raw token or X-Auth-Token "
               "gateway, --from-curl FILE reads how your vendor's curl sends it)")
        return one_line(f"the server {what}: {exc} — {fix}"), EXIT_AUTH
    if isinstance(exc, ContextOverflowError):
        return one_line(f"{exc} — the prompt is too long for the model: /reset the conversation or shorten it"), \
            EXIT_SERVER
    if isinstance(exc, NotFoundError):
        return (one_line(f"{exc} — wrong path or model name: check --endpoint/--base-url and --model "
                         "(`domestic-llm probe URL` lists the models)"), EXIT_SERVER)
    if isinstance(exc, BadRequestError):
        return one_line(f"{exc} — the server refused the request's shape; check --dialect and --model"), EXIT_SERVER
    if isinstance(exc, RateLimitError):
        return one_line(f"{exc} — rate limited: wait and retry, or ask for a higher quota"), EXIT_SERVER
    if isinstance(exc, ContentFilterError):
        return one_line(f"{exc} — the gateway's moderation refused this content"), EXIT_SERVER
    if isinstance(exc, ServerError):
        return one_line(f"{exc} — the server failed; retry later or give the request id to its operators"), \
            EXIT_SERVER
    if isinstance(exc, StreamInterruptedError):
        return one_line(f"{exc} — the connection broke mid-answer; retry"), EXIT_SERVER
    if isinstance(exc, MalformedResponseError):
        return (one_line(f"{exc} — the answer is not in the expected format: is --dialect right? "
                         "(`domestic-llm probe URL` tells)"), EXIT_SERVER)
    if isinstance(exc, DomesticLLMError):
        return one_line(str(exc)), EXIT_SERVER
    return one_line(f"internal error: {type(exc).__name__}: {exc} — rerun with --debug for the traceback "
                    "and report it"), EXIT_FAILURE


def _explain_connection(exc: APIConnectionError) -> str:
    """Refused, TLS, DNS or anything else: each has its own fix."""
    where = _host_port(exc.url)
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return one_line(f"connection refused by {where} ({exc.url}) — nothing is listening there: start the "
                        "server or fix the host/port in --base-url / --endpoint")
    if "certificate" in text or "ssl" in text:
        return one_line(f"TLS handshake with {where} failed ({_cause(chain)}) — for a private CA pass "
                        "--ca-bundle FILE.pem (or --insecure to skip verification on a trusted network)")
    if any(hint in text for hint in ("name or service not known", "nodename nor servname", "name resolution",
                                     "getaddrinfo")):
        return one_line(f"cannot resolve the host name of {where} — check the spelling in the URL, or use the "
                        "IP address")
    return one_line(f"cannot reach {where} ({_cause(chain)}) — check the URL, the network/VPN and "
                    "HTTP(S)_PROXY / NO_PROXY")


def _cause(chain: list[BaseException]) -> str:
    root = chain[-1]
    return one_line(f"{type(root).__name__}: {root}" if str(root) else type(root).__name__, 160)
