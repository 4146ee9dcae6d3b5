"""What a URL's path and a server's answers say about the server (pure functions, for `probe`)."""

from __future__ import annotations

from typing import Any

from ..dialects import Dialect, get_dialect, known_dialects
from ..dialects.prompt import PromptDialect


def is_base_path(path: str) -> bool:
    """A server root or an OpenAI-style `/v1` prefix rather than a route."""
    path = path.rstrip("/")
    return path == "" or path.endswith("/v1")


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
