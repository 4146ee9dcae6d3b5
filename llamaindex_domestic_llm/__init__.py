"""LlamaIndex integration of domestic-llm: `DomesticLLM`, `DomesticEmbedding`, `DomesticRerank`.

The core's exceptions are re-exported so LlamaIndex code can catch them from here.
"""

from domestic_llm import errors as _core_errors
from domestic_llm.errors import *  # noqa: F403 - the core's exceptions, catchable from here

from .base import DomesticLLM
from .embeddings import DomesticEmbedding
from .postprocessor import DomesticRerank

__all__ = ["DomesticEmbedding", "DomesticLLM", "DomesticRerank", *_core_errors.__all__]
