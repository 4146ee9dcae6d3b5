"""Dialect registry and inference of the dialect from an endpoint URL.

The built-in dialect modules are imported when a dialect is first chosen (`get_dialect`, or
`infer_dialect` picking it), not when this registry is: an application talks to one or two
dialects, and importing all eight (with the prompt dialects' chat templates) would cost every
`import` of the adapters. Inference must still rank every dialect without importing it, so the
registry keeps what inference reads of each built-in class — path pattern, rank, input field —
beside its location; `tests/test_dialect_registry.py` checks that copy against the classes and
that lazy inference answers exactly as inference over the imported classes.
"""

from __future__ import annotations

import re
import threading
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .base import Dialect, ErrorInfo, HttpRequest, ParseOptions, StreamParser


class _Builtin:
    """A built-in dialect not imported yet: its class's location and the attributes inference reads."""

    __slots__ = ("name", "module", "class_name", "path_pattern", "path_rank", "input_field")

    def __init__(self, name: str, location: str, path: str, path_rank: int = 0, input_field: str = "messages"):
        self.name = name
        self.module, self.class_name = location.split(":")
        self.path_pattern = re.compile(path)
        self.path_rank = path_rank
        self.input_field = input_field

    def load(self) -> Dialect:
        dialect: Dialect = getattr(import_module(self.module, __name__), self.class_name)()
        return dialect


#: the built-in dialects, in registration order (which breaks ties between equally ranked path patterns)
_BUILTINS: tuple[_Builtin, ...] = (
    _Builtin("openai", ".openai:OpenAIDialect", r"/chat/completions/?$", path_rank=10),
    _Builtin("ias", ".ias:IASDialect", r"/lmp-cloud-ias-server/api/llm/chat/completions/?$"),
    _Builtin("lm_v2", ".lm_v2:LMV2Dialect", r"/lm/v2/chat/completions/?$"),
    _Builtin("pangu_v1", ".pangu_v1:PanguV1Dialect", r"/v1/[^/]+/deployments/[^/]+/chat/completions/?$"),
    _Builtin("pangu_v2", ".pangu_v2:PanguV2Dialect", r"/api/v2/chat/completions/?$"),
    _Builtin("tgi", ".tgi:TGIDialect", r"/generate(?:_stream)?/?$", path_rank=5, input_field="inputs"),
    _Builtin("vllm_generate", ".vllm_generate:VLLMGenerateDialect", r"/generate/?$", path_rank=6,
             input_field="prompt"),
    _Builtin("triton", ".triton:TritonDialect", r"/v2/models/[^/]+(?:/versions/[^/]+)?/generate(?:_stream)?/?$",
             input_field="text_input"),
)
#: name -> the dialect instance, or its `_Builtin` placeholder until it is first chosen
_REGISTRY: dict[str, Dialect | _Builtin] = {b.name: b for b in _BUILTINS}
_LOADING = threading.RLock()  # one instance per built-in dialect, as when they were all created at import


def register(dialect: Dialect) -> Dialect:
    """Add a dialect instance under its `name` (later registrations win)."""
    _REGISTRY[dialect.name] = dialect
    return dialect


def _instance(entry: Dialect | _Builtin) -> Dialect:
    if isinstance(entry, Dialect):
        return entry
    with _LOADING:
        current = _REGISTRY.get(entry.name)
        if isinstance(current, Dialect):  # loaded by another thread meanwhile, or replaced by `register`
            return current
        dialect = entry.load()
        _REGISTRY[entry.name] = dialect  # an existing key keeps its place in the order
        return dialect


def known_dialects() -> list[str]:
    return sorted(_REGISTRY)


def get_dialect(name: str | Dialect) -> Dialect:
    """The dialect called `name`; a clear error lists the known ones."""
    if isinstance(name, Dialect):
        return name
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise ConfigurationError(
            f"dialect={name!r} is not known; use one of: {', '.join(known_dialects())}"
        ) from None
    return _instance(entry)


def infer_dialect(url: str, body: Any = None) -> Dialect | None:
    """The dialect whose documented path the URL ends with, most specific first; `None` if none.

    With a request `body` (from a pasted curl command), among the dialects whose path
    matches, the one whose input field (`messages`, `inputs`, `prompt`, …) the body has wins.
    Only the chosen dialect's module is imported.
    """
    path = urlsplit(url).path
    # more specific patterns are tried first: every gateway path also ends in /chat/completions
    matches = [d for d in sorted(_REGISTRY.values(), key=lambda d: d.path_rank)
               if d.path_pattern is not None and d.path_pattern.search(path)]
    if isinstance(body, dict):
        for entry in matches:
            if entry.input_field in body:
                return _instance(entry)
    return _instance(matches[0]) if matches else None


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
