"""pytest fixtures, registered through the `pytest11` entry point.

`emulator` is one server per test session (cheap: a thread), reset before each
test so scripts, faults and recorded requests never leak between tests.

`llamacpp_server` is a real llama.cpp server with SmolLM2-135M (see
`domestic_llm.testing.llamacpp`), one per session, installed (built once per
machine) before the first test when a collected test uses it. It skips with the
reason only when this machine cannot build it; with
`DOMESTIC_LLM_REQUIRE_REAL_SERVER=1` (CI) that is a failure instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

_LLAMACPP_UNAVAILABLE: list[str] = []  # why the real server cannot be had, found before the tests ran


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


def pytest_collection_finish(session: pytest.Session) -> None:
    # Install (maybe build: minutes) before any test runs, outside every test's timeout.
    if not any("llamacpp_server" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    from . import llamacpp

    if llamacpp.server_installed() and llamacpp.model_path() is not None:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(text: str) -> None:
        if reporter is not None:
            reporter.write_line(f"[llamacpp] {text}")

    try:
        llamacpp.install(say=say)
    except llamacpp.Unavailable as exc:
        _LLAMACPP_UNAVAILABLE.append(str(exc))
    except llamacpp.BuildFailed as exc:
        _LLAMACPP_UNAVAILABLE.append(f"BUILD FAILED: {exc}")


@pytest.fixture(scope="session")
def llamacpp_server() -> Iterator[Any]:
    """A running `python -m domestic_llm.testing.llamacpp` (`.base_url`, model `MODEL_ALIAS`)."""
    import os
    import tempfile

    from . import llamacpp

    if _LLAMACPP_UNAVAILABLE:
        reason = _LLAMACPP_UNAVAILABLE[0]
        if reason.startswith("BUILD FAILED") or os.environ.get(llamacpp.REQUIRE_ENV) == "1":
            pytest.fail(f"the llama.cpp server is required but unavailable: {reason}", pytrace=False)
        pytest.skip(f"no llama.cpp server on this machine: {reason}")
    log = tempfile.NamedTemporaryFile(prefix="llamacpp-server-", suffix=".log", delete=False)
    log.close()
    server = llamacpp.ServerCommand(log_file=log.name).start()
    yield server
    code = server.stop()
    assert code == 0, f"the llama.cpp helper did not stop cleanly on SIGTERM (exit {code}): {server.output[-10:]}"
    os.unlink(log.name)
