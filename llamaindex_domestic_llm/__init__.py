"""LlamaIndex integration of domestic-llm: `DomesticLLM`, `DomesticEmbedding`, `DomesticRerank`.

The core's exceptions are re-exported so LlamaIndex code can catch them from here.
The classes are loaded on first use (PEP 562): `import llamaindex_domestic_llm` does
not pay for httpx and the adapters until they are needed.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from domestic_llm import errors as _core_errors
from domestic_llm.errors import *  # noqa: F403 - the core's exceptions, catchable from here

if TYPE_CHECKING:
    from .base import DomesticLLM
    from .embeddings import DomesticEmbedding
    from .postprocessor import DomesticRerank

__all__ = ["DomesticEmbedding", "DomesticLLM", "DomesticRerank", *_core_errors.__all__]

#: public name -> the module that defines it, imported when the name is first used
_LAZY = {"DomesticLLM": ".base", "DomesticEmbedding": ".embeddings", "DomesticRerank": ".postprocessor"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value
