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
    (URL, DOMESTIC_LLM_API_KEY, DOMESTIC_LLM_MODEL) from the environment. With
    DOMESTIC_LLM_DEMO=real, a real llama.cpp server with SmolLM2-135M starts on a free
    loopback port (built and installed on first use). Otherwise the built-in emulator
    starts in-process on a free loopback port.
    """
    if os.environ.get("DOMESTIC_LLM_ENDPOINT") or os.environ.get("DOMESTIC_LLM_BASE_URL"):
        where = os.environ.get("DOMESTIC_LLM_ENDPOINT") or os.environ.get("DOMESTIC_LLM_BASE_URL")
        print(f"[using the endpoint from DOMESTIC_LLM_*: {where}]")
        yield {}
        return
    if os.environ.get("DOMESTIC_LLM_DEMO") == "real":
        # a real model with no endpoint at all: llama.cpp + SmolLM2-135M on a loopback port
        from domestic_llm.testing.llamacpp import MODEL_ALIAS, LlamaCppServer

        with LlamaCppServer() as server:
            print(f"[DOMESTIC_LLM_DEMO=real: llama.cpp with SmolLM2-135M (a tiny model: expect a real but "
                  f"naive answer) at {server.base_url}]")
            yield {"model": MODEL_ALIAS, "base_url": server.base_url, "max_tokens": 80, "temperature": 0.2}
        return
    from domestic_llm.testing import Emulator

    with Emulator(delay=delay) as emu:
        print(f"[no DOMESTIC_LLM_ENDPOINT set: using the built-in emulator at {emu.base_url}]")
        yield {"model": demo_model, "base_url": emu.base_url}


@contextlib.contextmanager
def rag_target(
    chat_model: str = "qwen-72b", embedding_model: str = "bge-m3", rerank_model: str = "bge-reranker-v2-m3"
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Yield keyword arguments for the chat model, the embedding model and the reranker.

    With DOMESTIC_LLM_ENDPOINT or DOMESTIC_LLM_BASE_URL set, every model reads the environment:
    the chat model DOMESTIC_LLM_*, the embedding model DOMESTIC_LLM_EMBEDDING_* and the reranker
    DOMESTIC_LLM_RERANK_* (ENDPOINT or BASE_URL, MODEL, DIALECT; the key falls back to
    DOMESTIC_LLM_API_KEY). Otherwise one built-in emulator serves all three routes.
    """
    if os.environ.get("DOMESTIC_LLM_ENDPOINT") or os.environ.get("DOMESTIC_LLM_BASE_URL"):
        for kind in ("EMBEDDING", "RERANK"):
            if not (os.environ.get(f"DOMESTIC_LLM_{kind}_ENDPOINT") or os.environ.get(f"DOMESTIC_LLM_{kind}_BASE_URL")):
                raise SystemExit(f"set DOMESTIC_LLM_{kind}_ENDPOINT or DOMESTIC_LLM_{kind}_BASE_URL too "
                                 f"(and DOMESTIC_LLM_{kind}_MODEL)")
        print("[using the endpoints from DOMESTIC_LLM_*, DOMESTIC_LLM_EMBEDDING_*, DOMESTIC_LLM_RERANK_*]")
        yield {}, {}, {}
        return
    from domestic_llm.testing import Emulator

    with Emulator() as emu:
        print(f"[no DOMESTIC_LLM_ENDPOINT set: chat, embeddings and rerank from the built-in emulator at {emu.url}]")
        yield ({"model": chat_model, "base_url": emu.base_url},
               {"model": embedding_model, "base_url": emu.base_url},
               {"model": rerank_model, "base_url": emu.base_url})
        served = {path: sum(r.path == path for r in emu.requests) for path in dict.fromkeys(r.path for r in emu.requests)}
        print("served by the emulator: " + ", ".join(f"{path} x{n}" for path, n in served.items()))
