"""Configuration: arguments, then `DOMESTIC_LLM_*` environment variables, checked before any request.

Everything here is pure (no I/O but reading the environment and, for `verify=`,
checking that a CA bundle exists): the dialect and URL of an endpoint, the
defaults of every transport option (`DEFAULTS`), the option checks, and the
building of a `ChatRequest` from an adapter's defaults and one call's keyword
arguments. `ChatClient` (sending, retrying, streaming) and the adapters'
settings model both take their configuration from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .dialects import get_dialect, infer_dialect, known_dialects
from .dialects.base import Dialect
from .errors import ConfigurationError, redact_url
from .credentials import check_auth_scheme
from .thinking import THINK_MODES
from .types import ChatRequest, Message
from .urls import tidy_url

ENV_PREFIX = "DOMESTIC_LLM_"
PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")


@dataclass(frozen=True)
class Defaults:
    """The default of each transport option, for `ChatClient`, the transport and both adapters."""

    timeout: float = 120.0
    connect_timeout: float = 10.0
    max_retries: int = 2
    max_connections: int = 100


DEFAULTS = Defaults()

#: sampling parameters an adapter exposes as fields; anything else in call kwargs goes to the body
SAMPLING_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "n", "seed", "presence_penalty", "frequency_penalty",
                   "logprobs", "top_logprobs", "top_k", "penalty_score")
_REQUEST_FIELDS = ("tools", "tool_choice", "response_format", "thinking", "model", "thinking_budget", "send_reasoning")

#: ChatClient keyword arguments that adapters expose under the same names (api_key aside)
CLIENT_OPTIONS = (
    "model", "endpoint", "base_url", "dialect", "auth_scheme", "token_provider", "timeout", "connect_timeout",
    "stall_timeout", "total_timeout", "max_retries", "default_headers", "verify", "proxy", "max_connections",
    "think_tags", "think_starts_open", "stream_usage", "strict", "chat_template", "trim_role_leaks",
    "model_family", "thinking_style", "reasoning_field", "text_tool_calls",
)


def env(name: str) -> str | None:
    """`DOMESTIC_LLM_<name>` from the environment, `None` when unset or empty."""
    value = os.environ.get(ENV_PREFIX + name)
    return value or None


def resolve_target(
    endpoint: str | None, base_url: str | None, dialect: str | Dialect | None
) -> tuple[Dialect, str]:
    """The dialect and full chat URL from `endpoint` / `base_url` / `dialect` (arguments, then env)."""
    endpoint = endpoint or (None if base_url else env("ENDPOINT"))
    base_url = base_url or (None if endpoint else env("BASE_URL"))
    dialect = dialect or env("DIALECT")
    endpoint, base_url = tidy_url("endpoint", endpoint), tidy_url("base_url", base_url)
    url = endpoint or base_url
    if not url:
        raise ConfigurationError(
            "no endpoint configured: pass endpoint='http://host:port/full/chat/path' (as your vendor "
            "document prints it) or base_url='http://host:port/v1', or set DOMESTIC_LLM_ENDPOINT / "
            "DOMESTIC_LLM_BASE_URL"
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{'endpoint' if endpoint else 'base_url'}={redact_url(url)!r} must start with http:// or https://"
        )
    inferred = infer_dialect(url)
    if base_url and inferred is None:
        # OpenAI convention: a prefix to which the dialect appends its own path
        chosen = get_dialect(dialect or "openai")
        return chosen, chosen.chat_url(base_url)
    if dialect:
        return get_dialect(dialect), url
    if inferred is None:
        raise ConfigurationError(
            f"cannot tell the dialect of endpoint={redact_url(url)!r} from its path; pass dialect= one of: "
            f"{', '.join(known_dialects())} (or use base_url= for an OpenAI-style prefix)"
        )
    return inferred, url


def check_options(
    *,
    timeout: float | None,
    connect_timeout: float | None,
    stall_timeout: float | None,
    total_timeout: float | None,
    max_retries: int,
    max_connections: int,
    verify: bool | str,
    proxy: str | None,
    auth_scheme: str | None,
    think_tags: str | None,
) -> None:
    """Reject transport options that would otherwise fail late (at the first call) or obscurely."""
    for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout),
                        ("stall_timeout", stall_timeout), ("total_timeout", total_timeout)):
        if value is not None and value <= 0:
            raise ConfigurationError(f"{name}={value} must be a positive number of seconds (or None)")
    if max_retries < 0:
        raise ConfigurationError(f"max_retries={max_retries} must be >= 0")
    if max_connections < 1:
        raise ConfigurationError(f"max_connections={max_connections} must be >= 1")
    if isinstance(verify, str) and not os.path.exists(verify):
        raise ConfigurationError(
            f"verify={verify!r}: no such CA bundle; pass True, False, or the path of a PEM file (or directory)"
        )
    if proxy is not None and not proxy.startswith(PROXY_SCHEMES):
        raise ConfigurationError(f"proxy={proxy!r} must be a URL starting with one of {', '.join(PROXY_SCHEMES)}")
    check_auth_scheme(auth_scheme)
    if think_tags is not None and think_tags not in THINK_MODES:
        raise ConfigurationError(f"think_tags={think_tags!r} must be one of {', '.join(THINK_MODES)}")


def templated(dialect: Dialect, chat_template: Any, model: str) -> Dialect:
    """The dialect with its chat template (prompt-style dialects only), checked before any request."""
    if chat_template is not None:
        if not hasattr(dialect, "with_template"):
            raise ConfigurationError(
                f"chat_template: the {dialect.name!r} dialect sends messages, the server applies the "
                "template; chat_template applies to prompt-style dialects (tgi, vllm_generate, triton)"
            )
        dialect = dialect.with_template(chat_template)
    if hasattr(dialect, "check_model"):
        dialect.check_model(model)  # a chat template must be known before any request
    return dialect


def require_tools(dialect: Dialect) -> None:
    """Raise before sending when tools are given to a dialect that has no way to carry them."""
    if not dialect.supports_tools:
        raise ConfigurationError(f"tools: the {dialect.name!r} dialect cannot carry tool definitions")


def as_messages(messages: Sequence[Message | dict[str, Any]] | str) -> list[Message]:
    """Accept `Message`s, OpenAI-style dicts or a lone prompt string."""
    if isinstance(messages, str):
        return [Message("user", messages)]
    out = []
    for m in messages:
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, dict):
            out.append(Message(m["role"], m.get("content") or "", name=m.get("name"), tool_call_id=m.get("tool_call_id")))
        else:
            raise ConfigurationError(f"messages: expected Message or dict, got {type(m).__name__}")
    return out


def make_request(
    model: str,
    messages: list[Message],
    params: dict[str, Any],
    extra_body: dict[str, Any],
    call_kwargs: dict[str, Any],
    *,
    thinking: bool | None = None,
    send_reasoning: bool | str | None = None,
    thinking_budget: int | None = None,
) -> ChatRequest:
    """A `ChatRequest` from an adapter's defaults and one call's keyword arguments.

    Call kwargs named like sampling params override them; `tools`, `tool_choice`,
    `response_format`, `thinking` and `model` set those request fields; `extra_body`
    merges into the body; framework-internal names (`ls_*`, `stream`) are dropped;
    anything else becomes an extra body field, as the OpenAI clients do.
    """
    params = {k: v for k, v in params.items() if v is not None}
    extra = dict(extra_body)
    request = ChatRequest(model=model, messages=messages, thinking=thinking, send_reasoning=send_reasoning,
                          thinking_budget=thinking_budget)
    for key, value in call_kwargs.items():
        if key in SAMPLING_PARAMS:
            params[key] = value
        elif key in _REQUEST_FIELDS:
            setattr(request, key, value)
        elif key == "extra_body":
            extra.update(value or {})
        elif not (key.startswith("ls_") or key == "stream"):
            extra[key] = value
    request.params = params
    request.extra_body = extra
    return request
