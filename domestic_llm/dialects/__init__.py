"""Dialect registry and inference of the dialect from an endpoint URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .base import Dialect, ErrorInfo, HttpRequest, ParseOptions, StreamParser
from .ias import IASDialect
from .lm_v2 import LMV2Dialect
from .openai import OpenAIDialect
from .pangu_v1 import PanguV1Dialect
from .pangu_v2 import PanguV2Dialect

_REGISTRY: dict[str, Dialect] = {}


def register(dialect: Dialect) -> Dialect:
    """Add a dialect instance under its `name` (later registrations win)."""
    _REGISTRY[dialect.name] = dialect
    return dialect


for _d in (OpenAIDialect(), IASDialect(), LMV2Dialect(), PanguV1Dialect(), PanguV2Dialect()):
    register(_d)


def known_dialects() -> list[str]:
    return sorted(_REGISTRY)


def get_dialect(name: str | Dialect) -> Dialect:
    """The dialect called `name`; a clear error lists the known ones."""
    if isinstance(name, Dialect):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigurationError(
            f"dialect={name!r} is not known; use one of: {', '.join(known_dialects())}"
        ) from None


def infer_dialect(url: str) -> Dialect | None:
    """The dialect whose documented path the URL ends with, most specific first; `None` if none."""
    path = urlsplit(url).path
    # more specific patterns are tried first: every gateway path also ends in /chat/completions
    for dialect in sorted(_REGISTRY.values(), key=lambda d: d.name == "openai"):
        pattern = dialect.path_pattern
        if pattern is not None and pattern.search(path):
            return dialect
    return None


__all__ = [
    "Dialect",
    "ErrorInfo",
    "HttpRequest",
    "ParseOptions",
    "StreamParser",
    "get_dialect",
    "infer_dialect",
    "known_dialects",
    "register",
]
