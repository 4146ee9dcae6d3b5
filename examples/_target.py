"""Where the examples send requests: a real endpoint when DOMESTIC_LLM_* is set, else the emulator."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def target(demo_model: str = "deepseek-r1-distill-qwen-32b", delay: float = 0.02) -> Iterator[dict[str, Any]]:
    """Yield keyword arguments for ChatDomestic / DomesticLLM.

    With DOMESTIC_LLM_ENDPOINT or DOMESTIC_LLM_BASE_URL set, the models read everything
    (URL, DOMESTIC_LLM_API_KEY, DOMESTIC_LLM_MODEL) from the environment. Otherwise the
    built-in emulator starts in-process on a free loopback port.
    """
    if os.environ.get("DOMESTIC_LLM_ENDPOINT") or os.environ.get("DOMESTIC_LLM_BASE_URL"):
        where = os.environ.get("DOMESTIC_LLM_ENDPOINT") or os.environ.get("DOMESTIC_LLM_BASE_URL")
        print(f"[using the endpoint from DOMESTIC_LLM_*: {where}]")
        yield {}
        return
    from domestic_llm.testing import Emulator

    with Emulator(delay=delay) as emu:
        print(f"[no DOMESTIC_LLM_ENDPOINT set: using the built-in emulator at {emu.base_url}]")
        yield {"model": demo_model, "base_url": emu.base_url}
