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
    yield emu
    emu.reset()
