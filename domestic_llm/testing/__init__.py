"""Test and demo helpers: the emulator of every dialect and its pytest fixture.

Needs the `emulator` extra (starlette, uvicorn); nothing here is imported by the core.
"""

from .emulator import Emulator, Fault, RecordedRequest
from .replies import Reply, ScriptedToolCall

__all__ = ["Emulator", "Fault", "RecordedRequest", "Reply", "ScriptedToolCall"]
