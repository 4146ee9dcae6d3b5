"""pytest fixtures, registered through the `pytest11` entry point.

`emulator` is one server per test session (cheap: a thread), reset before each
test so scripts, faults and recorded requests never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _domestic_llm_emulator_server() -> Iterator[Any]:
    from .emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(_domestic_llm_emulator_server: Any) -> Iterator[Any]:
    """A running `Emulator` (see `domestic_llm.testing`), reset for this test."""
    emu = _domestic_llm_emulator_server
    emu.reset()
    emu.state.api_key = None
    emu.state.auth_location = None
    emu.state.max_model_len = 32768
    emu.state.chunk_bytes = None
    emu.state.delay = 0.0
    emu.state.reject_stream_options = False
    emu.state.tool_deltas = "openai"
    emu.state.reject_json_schema = False
    emu.state.named_tool_choice_only = False
    emu.state.ignore_stream_options = False
    yield emu
    emu.reset()
