"""Dialect registry and inference of the dialect from an endpoint URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .base import Dialect, ErrorInfo, HttpRequest, ParseOptions, StreamParser
from .ias import IASDialect
from .lm_v2 import LMV2Dialect
from .openai import OpenAIDialect
from .pangu_v1 import PanguV1Dialect
from .pangu_v2 import PanguV2Dialect
from .tgi import TGIDialect
from .triton import TritonDialect
from .vllm_generate import VLLMGenerateDialect

_REGISTRY: dict[str, Dialect] = {}


def register(dialect: Dialect) -> Dialect:
    """Add a dialect instance under its `name` (later registrations win)."""
    _REGISTRY[dialect.name] = dialect
    return dialect


for _d in (OpenAIDialect(), IASDialect(), LMV2Dialect(), PanguV1Dialect(), PanguV2Dialect()):
    register(_d)
register(TGIDialect())
register(VLLMGenerateDialect())
register(TritonDialect())


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


def infer_dialect(url: str, body: Any = None) -> Dialect | None:
    """The dialect whose documented path the URL ends with, most specific first; `None` if none.

    With a request `body` (from a pasted curl command), among the dialects whose path
    matches, the one whose input field (`messages`, `inputs`, `prompt`, …) the body has wins.
    """
    path = urlsplit(url).path
    # more specific patterns are tried first: every gateway path also ends in /chat/completions
    matches = [d for d in sorted(_REGISTRY.values(), key=lambda d: d.path_rank)
               if d.path_pattern is not None and d.path_pattern.search(path)]
    if isinstance(body, dict):
        for dialect in matches:
            if dialect.input_field in body:
                return dialect
    return matches[0] if matches else None


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
