"""LangChain integration of domestic-llm: `ChatDomestic`.

The core's exceptions are re-exported so LangChain code can catch them from here.
"""

from domestic_llm import errors as _core_errors
from domestic_llm.errors import *  # noqa: F403 - the core's exceptions, catchable from here

from .chat_models import ChatDomestic

__all__ = ["ChatDomestic", *_core_errors.__all__]
