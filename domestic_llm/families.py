"""What the client must know about a model family, as data: one table keyed by model-name patterns.

Dialects describe wire formats; families describe model behaviour that is the same
whichever server runs the model (a Qwen3 behind vLLM or behind a gateway):

* which request field carries the thinking switch (`THINKING_STYLES`), and whether
  the server can bound thinking natively;
* whether the chat template opens `<think>` itself, so that the output carries only
  the closing `</think>` (DeepSeek-R1 and its distills, QwQ, Qwen3-*-Thinking-2507);
* whether earlier reasoning must be sent back, and in which field.

The first family whose pattern is found in the lower-cased model name wins, so
specific patterns come first. Private deployments rename models freely: pass
`model_family=` (a family name) or the individual overrides (`thinking_style=`,
`send_reasoning=`, `think_starts_open=`, `reasoning_field=`) when the name does not
say what the model is. Extend the table with `register_family`.

This module is pure data and pure functions: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ConfigurationError

SendReasoning = Literal["tool_turns", "all", "never"]
SEND_REASONING_MODES: tuple[str, ...] = ("tool_turns", "all", "never")
ReasoningField = Literal["reasoning_content", "reasoning"]
REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning")


@dataclass(frozen=True)
class ThinkingStyle:
    """How one kind of server switches thinking: the body fields for on and off.

    `on` / `off` are merged into the request body (one level deep, under the user's own
    `model_kwargs`); `None` means the switch does not exist in that direction (a model
    that always thinks has no `off`). `budget_path` is where a native thinking budget
    goes, if the server has one.
    """

    name: str
    on: dict[str, Any] | None
    off: dict[str, Any] | None
    budget_path: tuple[str, ...] | None = None
    doc: str = ""


THINKING_STYLES: dict[str, ThinkingStyle] = {s.name: s for s in (
    ThinkingStyle("chat_template_kwargs.enable_thinking",
                  {"chat_template_kwargs": {"enable_thinking": True}},
                  {"chat_template_kwargs": {"enable_thinking": False}},
                  doc="Qwen3 (and GLM) on vLLM / SGLang: a chat-template variable"),
    ThinkingStyle("chat_template_kwargs.thinking",
                  {"chat_template_kwargs": {"thinking": True}},
                  {"chat_template_kwargs": {"thinking": False}},
                  doc="DeepSeek-V3.1 / V3.2 on vLLM / SGLang"),
    ThinkingStyle("thinking.type",
                  {"thinking": {"type": "enabled"}},
                  {"thinking": {"type": "disabled"}},
                  doc="DeepSeek-V4, GLM, Kimi-K2.5 style APIs and gateways"),
    ThinkingStyle("enable_thinking",
                  {"enable_thinking": True},
                  {"enable_thinking": False},
                  budget_path=("thinking_budget",),
                  doc="DashScope-style gateways: top-level flag, native `thinking_budget`"),
    ThinkingStyle("chat_template_kwargs.thinking_budget",
                  {},
                  {"chat_template_kwargs": {"thinking_budget": 0}},
                  budget_path=("chat_template_kwargs", "thinking_budget"),
                  doc="ByteDance Seed-OSS: budget 0 switches thinking off, N bounds it"),
    ThinkingStyle("always", {}, None, doc="the model always thinks; there is no off switch"),
    ThinkingStyle("never", None, {}, doc="the model never thinks (instruct-only)"),
    ThinkingStyle("none", None, None, doc="the endpoint has no thinking switch at all"),
)}


@dataclass(frozen=True)
class Family:
    """One model family's behaviour. `pattern` is a regular expression searched in the lower-cased model name."""

    name: str
    pattern: str
    thinking_style: str
    #: whether the model thinks when no switch is sent
    thinks_by_default: bool = True
    #: the chat template opens `<think>` in the prompt whenever the model thinks: only `</think>` is generated
    opens_think: bool = False
    #: without a reasoning parser the server passes `<think>…</think>` through in the content
    think_tags: bool = True
    #: which earlier reasoning goes back to the server (see `select_reasoning`)
    send_reasoning: SendReasoning = "never"
    reasoning_field: ReasoningField = "reasoning_content"
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.thinking_style not in THINKING_STYLES:
            raise ConfigurationError(f"family {self.name!r}: unknown thinking_style {self.thinking_style!r}")
        object.__setattr__(self, "compiled", re.compile(self.pattern))


FAMILIES: list[Family] = [
    # before qwen3: DeepSeek-R1-0528-Qwen3-8B is an R1 distill
    Family("deepseek-r1", r"deepseek-r1|r1-distill", "always", opens_think=True),
    Family("qwen3-thinking", r"qwen3.*thinking", "always", opens_think=True),
    Family("qwen3-instruct", r"qwen3.*(instruct|coder)", "never", thinks_by_default=False, think_tags=False),
    Family("qwen3", r"qwen3", "chat_template_kwargs.enable_thinking"),
    Family("qwq", r"qwq", "always", opens_think=True),
    Family("qwen-dashscope", r"qwen-(plus|turbo|flash|max)", "enable_thinking", thinks_by_default=False),
    Family("deepseek-v3.1", r"deepseek-v3[.-]1", "chat_template_kwargs.thinking", thinks_by_default=False,
           opens_think=True),
    Family("deepseek-v3.2", r"deepseek-v3[.-]2", "chat_template_kwargs.thinking", thinks_by_default=False,
           opens_think=True, send_reasoning="tool_turns"),
    Family("deepseek-v4", r"deepseek-v4", "thinking.type", send_reasoning="tool_turns"),
    Family("glm", r"glm-?(4\.[5-9]|[5-9])|glm-z1", "thinking.type", send_reasoning="tool_turns"),
    Family("kimi-k2-thinking", r"kimi-k2.*thinking", "always", send_reasoning="tool_turns"),
    Family("kimi-k2.5", r"kimi-k2\.5", "thinking.type", send_reasoning="tool_turns"),
    Family("kimi-k2", r"kimi-k2", "never", thinks_by_default=False, think_tags=False),
    Family("seed-oss", r"seed-oss", "chat_template_kwargs.thinking_budget"),
    Family("gpt-oss", r"gpt-oss", "always", think_tags=False, send_reasoning="tool_turns", reasoning_field="reasoning"),
]
"""The family table; the first match wins. README section "Model families" documents it."""


def register_family(family: Family, *, first: bool = True) -> None:
    """Add a family to the table (before the built-in ones by default, so it wins over them)."""
    if first:
        FAMILIES.insert(0, family)
    else:
        FAMILIES.append(family)


def family_names() -> list[str]:
    return [f.name for f in FAMILIES]


def family_for(model: str) -> Family | None:
    """The first family whose pattern is found in the lower-cased model name, or `None`."""
    name = model.lower()
    for family in FAMILIES:
        if family.compiled.search(name):
            return family
    return None


def family_named(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    raise ConfigurationError(f"model_family={name!r} is not known; use one of: {', '.join(family_names())}")


def style_named(name: str, parameter: str = "thinking_style") -> ThinkingStyle:
    try:
        return THINKING_STYLES[name]
    except KeyError:
        raise ConfigurationError(
            f"{parameter}={name!r} is not known; use one of: {', '.join(THINKING_STYLES)}"
        ) from None


def merge_fields(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` merged into a copy of `base`, nested dicts one level deep (as the dialects merge `extra_body`)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def thinking_fields(style: ThinkingStyle, thinking: bool | None, budget: int | None) -> dict[str, Any]:
    """Body fields that switch thinking on/off (and bound it natively) in `style`; `{}` when nothing is asked."""
    fields: dict[str, Any] = {}
    if thinking is True or (thinking is None and budget is not None and style.on):
        fields = dict(style.on or {})
    elif thinking is False:
        fields = dict(style.off or {})
    if budget is not None and style.budget_path is not None:
        *parents, leaf = style.budget_path
        target = fields
        for key in parents:
            target[key] = dict(target.get(key) or {})
            target = target[key]
        target[leaf] = budget
    return fields


def select_reasoning(messages: list[Any], mode: str) -> list[bool]:
    """For each message, whether its reasoning goes back to the server under `mode`.

    `all`: every assistant turn that has reasoning; `never`: none; `tool_turns`: only
    assistant turns with tool calls after the last user message, i.e. the current
    tool-use loop (what DeepSeek-V3.2+/Kimi require and Qwen3's template keeps).
    """
    if mode == "never":
        return [False] * len(messages)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    return [
        bool(m.role == "assistant" and m.reasoning and (mode == "all" or (m.tool_calls and i > last_user)))
        for i, m in enumerate(messages)
    ]
