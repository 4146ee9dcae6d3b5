"""What a URL's path and a server's answers say about the server (pure functions, for `probe`)."""

from __future__ import annotations

from typing import Any

import httpx

from ..dialects import Dialect, get_dialect, known_dialects
from ..dialects.prompt import PromptDialect

# model-list fields servers use for the context window (vLLM: max_model_len)
CONTEXT_FIELDS = ("max_model_len", "context_length", "context_window", "max_context_length", "max_seq_len")


def is_base_path(path: str) -> bool:
    path = path.rstrip("/")
    return path == "" or path.endswith("/v1")


def models_url_of(chat_url: str) -> str | None:
    """The OpenAI-style model list next to a chat route (`.../v1/chat/completions` → `.../v1/models`)."""
    parsed = httpx.URL(chat_url)
    path = parsed.path.rstrip("/")
    if path.endswith("/chat/completions"):
        return str(parsed.copy_with(path=path[: -len("/chat/completions")] + "/models", query=None))
    return None


def classify_body(body: Any) -> str | None:
    """The dialect an answer body looks like (for URLs whose path says nothing), or `None`."""
    if not isinstance(body, dict):
        return None
    if "appId" in body or "globalTraceId" in body:
        return "ias"
    if "error_msg" in body or "error_code" in body or body.get("suggestion") == "block":
        return "pangu_v1"
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        if choices[0].get("finish_reason") == "normal":
            return "lm_v2"
        # pangu_v2's answers are vLLM's (stop_reason, prompt_logprobs): by shape alone they are openai
        return "openai"
    if body.get("object") in ("chat.completion", "error") or isinstance(body.get("error"), dict):
        return "openai"
    for key, name in (("generated_text", "tgi"), ("text_output", "triton")):
        if key in body:
            return name
    if isinstance(body.get("text"), list):
        return "vllm_generate"
    return None


def path_candidates(path: str, inferred: str) -> list[str]:
    """The dialects whose documented path the URL has, the inferred one first.

    Some paths are shared (TGI's and vLLM's demo server's `/generate`); the first answer tells
    them apart. Every gateway path also ends in `/chat/completions`: openai counts only alone.
    """
    names = [n for n in known_dialects()
             if (pattern := get_dialect(n).path_pattern) is not None and pattern.search(path)]
    specific = [n for n in names if n != "openai"] or names
    return [inferred] + [n for n in specific if n != inferred]


def prompt_style(dialect: Dialect) -> bool:
    """A server that continues raw text (TGI, vLLM's demo, Triton): no reasoning parser, no tools."""
    return isinstance(dialect, PromptDialect)


def lists_models(dialect: Dialect) -> bool:
    """Whether the dialect knows its own model-listing route (TGI `/info`, Triton's repository index)."""
    return type(dialect).models_requests is not Dialect.models_requests


def context_length_of(entries: list[dict[str, Any]], model: str | None) -> int | None:
    chosen = [e for e in entries if e.get("id") == model] or entries
    for entry in chosen:
        for key in CONTEXT_FIELDS:
            value = entry.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None
