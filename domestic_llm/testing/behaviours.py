"""How real servers treat reasoning models and tools, imitated per model family.

`Emulator.state.behaviour` (a `ServerBehaviour`, reset before each test) switches on
what a real deployment gets wrong or demands:

* the thinking switch is read only from the field the model's family uses
  (`domestic_llm.families`); a switch in another field is ignored, as real servers
  ignore it — so a test sees whether the client put it in the right place;
* `cut_at_max_tokens`: `max_tokens` / `max_completion_tokens` cut the answer
  (`finish_reason: length`); a native `thinking_budget` always cuts the reasoning, counted in the emulator's
  tokens (one streamed piece = one token);
* `continue_final_message` / `add_generation_prompt` are checked as vLLM checks
  them, and a continuation after a closed `</think>` is answered without thinking;
* `inline_think`: no reasoning parser — reasoning goes into `content` inside
  `<think>` tags, without the opening tag for families whose template opens it;
* `answer_in_reasoning`: a reasoning parser that files a non-thinking answer
  (thinking off, or a continuation) in `reasoning_content` and leaves `content` empty;
* `require_reasoning_back`: answer 400 unless assistant tool-call turns after the
  last user message carry their reasoning in that field (DeepSeek-V3.2+/Kimi);
* `tool_markup`: no tool parser — tool calls arrive as hermes / DeepSeek / Kimi
  markup inside `content`, with `finish_reason: stop`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..families import THINKING_STYLES, family_for
from .replies import Reply, ScriptedToolCall, _last_user_text, content_text, pieces

TOOL_MARKUPS = ("hermes", "deepseek", "deepseek-v3.1", "kimi")


@dataclass
class ServerBehaviour:
    """Server-side quirks around reasoning and tools (all off by default)."""

    tool_markup: str | None = None
    inline_think: bool = False
    answer_in_reasoning: bool = False
    require_reasoning_back: str | None = None  # "reasoning_content" or "reasoning"
    continuation: bool = True  # False: an older/strict server that rejects continue_final_message
    cut_at_max_tokens: bool = False  # cut the answer at max_tokens (finish "length"), as real servers do


def _has(body: dict[str, Any], fields: dict[str, Any]) -> bool:
    for key, want in fields.items():
        got = body.get(key)
        if isinstance(want, dict):
            if not isinstance(got, dict) or not _has(got, want):
                return False
        elif got != want:
            return False
    return True


def thinking_requested(body: dict[str, Any]) -> bool | None:
    """The thinking switch as the model's family reads it; `None` when none is set (or set in a field it ignores)."""
    family = family_for(str(body.get("model") or ""))
    styles = [THINKING_STYLES[family.thinking_style]] if family else list(THINKING_STYLES.values())
    for style in styles:
        for value, fields in ((False, style.off), (True, style.on)):
            if fields and _has(body, fields):
                return value
    if family is not None and family.thinking_style in ("always", "never"):
        return family.thinking_style == "always"
    return family.thinks_by_default if family is not None else None


def native_budget(body: dict[str, Any]) -> int | None:
    family = family_for(str(body.get("model") or ""))
    style = THINKING_STYLES[family.thinking_style] if family else None
    if style is None or style.budget_path is None:
        return None
    value: Any = body
    for key in style.budget_path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def continuing(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    return bool(body.get("continue_final_message") and messages and isinstance(messages[-1], dict)
                and messages[-1].get("role") == "assistant")


def check_request(body: dict[str, Any], behaviour: ServerBehaviour) -> tuple[str, str] | None:
    """A 400 `(code, message)` for what vLLM (or a DeepSeek-style server) rejects, else `None`."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if "continue_final_message" in body and not behaviour.continuation:
        return "invalid_request", "Extra inputs are not permitted: continue_final_message"
    if body.get("continue_final_message"):
        if body.get("add_generation_prompt", True):
            return "invalid_request", "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        if not messages or messages[-1].get("role") != "assistant":
            return "invalid_request", "continue_final_message requires the last message to be an assistant message"
    field = behaviour.require_reasoning_back
    if field:
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        for i, m in enumerate(messages):
            if i > last_user and m.get("role") == "assistant" and m.get("tool_calls") and not m.get(field):
                return "invalid_request_error", (
                    f"Missing `{field}` field in the assistant message at message index {i}: in thinking mode "
                    f"the reasoning of tool-call turns must be passed back"
                )
    return None


def continuation_reply(body: dict[str, Any]) -> Reply | None:
    """The answer after a prefix whose reasoning is closed: no more thinking, just the answer."""
    if not continuing(body):
        return None
    question = _last_user_text([m for m in body.get("messages") or [] if isinstance(m, dict)]).strip()
    short = question if len(question) <= 40 else question[:40] + "…"
    prefix = content_text(body["messages"][-1].get("content"))
    if "</think>" not in prefix:
        return Reply(text="……想完了。</think>\n\n" + f"关于“{short}”：这是思考后的回答。")
    return Reply(text=f"关于“{short}”：这是思考后的回答。")


def markup(calls: list[ScriptedToolCall], style: str) -> str:
    """Tool calls written out as the model writes them when no tool parser catches them."""
    if style == "hermes":
        return "".join(
            f'<tool_call>\n{{"name": {json.dumps(c.name, ensure_ascii=False)}, "arguments": {c.arguments_json()}}}\n'
            f"</tool_call>\n" for c in calls)
    if style == "deepseek":
        return "<｜tool▁calls▁begin｜>" + "".join(
            f"<｜tool▁call▁begin｜>function<｜tool▁sep｜>{c.name}\n```json\n{c.arguments_json()}\n```<｜tool▁call▁end｜>"
            for c in calls) + "<｜tool▁calls▁end｜>"
    if style == "deepseek-v3.1":
        return "<｜tool▁calls▁begin｜>" + "".join(
            f"<｜tool▁call▁begin｜>{c.name}<｜tool▁sep｜>{c.arguments_json()}<｜tool▁call▁end｜>"
            for c in calls) + "<｜tool▁calls▁end｜>"
    if style == "kimi":
        return "<|tool_calls_section_begin|>" + "".join(
            f"<|tool_call_begin|>functions.{c.name}:{i}<|tool_call_argument_begin|>{c.arguments_json()}"
            f"<|tool_call_end|>" for i, c in enumerate(calls)) + "<|tool_calls_section_end|>"
    raise ValueError(f"tool_markup={style!r}; the emulator knows {TOOL_MARKUPS}")


def _cut(reply: Reply, limit: int) -> Reply:
    """The reply cut after `limit` tokens (pieces: reasoning first, then text, then one per tool call)."""
    r = pieces(reply.reasoning)
    t = pieces(reply.text)
    if len(r) + len(t) + len(reply.tool_calls) <= limit:
        return reply
    r = r[:limit]
    t = t[: max(0, limit - len(r))]
    return Reply("".join(t), "".join(r), [], "length")


def shape(reply: Reply, body: dict[str, Any], behaviour: ServerBehaviour) -> Reply:
    """What the server sends for `reply`, given the request and the server's quirks."""
    text, reasoning, calls, finish = reply.text, reply.reasoning, reply.tool_calls, reply.finish_reason
    budget = native_budget(body)
    if budget is not None and len(pieces(reasoning)) > budget:
        reasoning = "".join(pieces(reasoning)[:budget])
    if calls and behaviour.tool_markup:
        text, calls, finish = text + markup(calls, behaviour.tool_markup), [], finish or "stop"
    if behaviour.inline_think and reasoning:
        family = family_for(str(body.get("model") or ""))
        opened = "" if family is not None and family.opens_think else "<think>\n"
        text, reasoning = f"{opened}{reasoning}\n</think>\n\n{text}", ""
    elif behaviour.answer_in_reasoning and not reasoning and (thinking_requested(body) is False or continuing(body)):
        text, reasoning = "", text  # the parser never saw </think>: everything is "reasoning"
    shaped = Reply(text, reasoning, calls, finish)
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if behaviour.cut_at_max_tokens and isinstance(limit, int) and limit > 0:
        return _cut(shaped, limit)
    return shaped
