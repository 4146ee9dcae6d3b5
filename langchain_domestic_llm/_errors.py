"""The core's errors as langchain-core's standard model exceptions too.

langchain-core asks integrations to raise classes that inherit from both its
`ModelError` subtype and the integration's own type, so generic LangChain code
(`except ModelRateLimitError`, `ContextOverflowError` handling in agents) and
code catching this package's errors both work. The core stays framework-free:
the recast happens here, at the adapter boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core import exceptions as lc

from domestic_llm import errors as core

_PAIRS: list[tuple[type[core.DomesticLLMError], type[lc.ModelError]]] = [
    # most specific first: the first base class the error is an instance of wins
    (core.ContextOverflowError, lc.ContextOverflowError),
    (core.AuthenticationError, lc.ModelAuthenticationError),
    (core.PermissionDeniedError, lc.ModelPermissionDeniedError),
    (core.NotFoundError, lc.ModelNotFoundError),
    (core.BadRequestError, lc.ModelInvalidRequestError),
    (core.RateLimitError, lc.ModelRateLimitError),
    (core.ServerError, lc.ModelAPIError),
    (core.StreamTimeoutError, lc.ModelTimeoutError),
    (core.APITimeoutError, lc.ModelTimeoutError),
    (core.APIConnectionError, lc.ModelConnectionError),
]
_DUAL: dict[type[core.DomesticLLMError], type[core.DomesticLLMError]] = {}


def _dual_class(cls: type[core.DomesticLLMError]) -> type[core.DomesticLLMError] | None:
    if cls in _DUAL:
        return _DUAL[cls]
    for base, model_error in _PAIRS:
        if issubclass(cls, base):
            dual = type(cls.__name__, (cls, model_error), {"__module__": __name__})
            _DUAL[cls] = dual
            return dual
    return None


def __getattr__(name: str) -> type[core.DomesticLLMError]:
    # pickle finds a recast error's class by module and name, also in a fresh process
    cls = getattr(core, name, None)
    dual = _dual_class(cls) if isinstance(cls, type) and issubclass(cls, core.DomesticLLMError) else None
    if dual is None:
        raise AttributeError(name)
    return dual


def as_langchain_error(exc: core.DomesticLLMError) -> core.DomesticLLMError:
    """The same error (same message and fields), also an instance of langchain-core's type."""
    dual = _dual_class(type(exc))
    if dual is None or isinstance(exc, dual):
        return exc
    recast = dual.__new__(dual)
    recast.__dict__.update(exc.__dict__)
    recast.args = exc.args
    recast.__traceback__ = exc.__traceback__
    return recast


@contextmanager
def langchain_errors() -> Iterator[None]:
    try:
        yield
    except core.DomesticLLMError as exc:
        recast = as_langchain_error(exc)
        if recast is exc:
            raise
        raise recast from exc
