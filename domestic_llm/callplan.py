"""What one request needs from the model-family table: switch fields, send-back, parsing, fix-ups.

`plan_request` is called by the client before each request. It resolves the
model's family (`families`), puts the thinking switch (and a native thinking
budget) into the body in the field that family/endpoint understands, keeps only
the earlier reasoning the server should see, and decides how the answer is parsed
(`<think>` splitting, implicit `<think>`) and fixed up (`fixups`). Bad settings
raise `ConfigurationError` here, before anything is sent.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .dialects.base import Dialect, ParseOptions
from .errors import ConfigurationError
from .families import (
    REASONING_FIELDS,
    SEND_REASONING_MODES,
    THINKING_STYLES,
    Family,
    ThinkingStyle,
    family_for,
    family_named,
    family_names,
    merge_fields,
    select_reasoning,
    style_named,
    thinking_fields,
)
from .fixups import AnswerFixes
from .thinking import CLOSE, THINK_MODES, ThinkMode
from .types import ChatRequest


@dataclass(frozen=True, slots=True)
class FamilyOptions:
    """Per-instance overrides of what the family table says (`None`: the table decides)."""

    model_family: str | None = None
    thinking_style: str | None = None
    think_starts_open: bool | None = None
    think_tags: ThinkMode | None = None
    reasoning_field: str | None = None
    text_tool_calls: bool = True

    def check(self) -> None:
        """Reject unknown names at construction, before any request."""
        if self.model_family is not None:
            family_named(self.model_family)
        if self.thinking_style is not None:
            style_named(self.thinking_style)
        if self.reasoning_field is not None and self.reasoning_field not in REASONING_FIELDS:
            raise ConfigurationError(
                f"reasoning_field={self.reasoning_field!r} must be one of {', '.join(REASONING_FIELDS)}"
            )
        if self.think_tags is not None and self.think_tags not in THINK_MODES:
            raise ConfigurationError(f"think_tags={self.think_tags!r} must be one of {', '.join(THINK_MODES)}")


@dataclass(slots=True)
class CallPlan:
    """The per-request decisions: parse options, fix-ups and a client-enforced thinking budget."""

    family: Family | None
    parse: ParseOptions
    fixes: AnswerFixes
    #: thinking budget in tokens that the client enforces (`budget` module); `None` when native or unset
    budget: int | None = None


def _styles_help() -> str:
    return "; ".join(f"{s.name} ({s.doc})" for s in THINKING_STYLES.values())


def _style(request: ChatRequest, family: Family | None, dialect: Dialect, options: FamilyOptions,
           what: str) -> ThinkingStyle:
    if options.thinking_style is not None:
        return style_named(options.thinking_style)
    if dialect.thinking_style is not None:  # a gateway's own switch (or none at all)
        return style_named(dialect.thinking_style)
    if family is not None:
        return style_named(family.thinking_style)
    raise ConfigurationError(
        f"{what}: no family in the table matches model={request.model!r}, so which request field carries the "
        f"thinking switch is unknown; pass thinking_style= one of: {_styles_help()}; or model_family= one of: "
        f"{', '.join(family_names())}"
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def continues_closed_reasoning(request: ChatRequest) -> bool:
    """The request continues a final assistant message whose reasoning is already closed by `</think>`."""
    return bool(
        request.extra_body.get("continue_final_message") is True
        and request.messages
        and request.messages[-1].role == "assistant"
        and CLOSE in _text(request.messages[-1].content)
    )


def plan_request(request: ChatRequest, dialect: Dialect, options: FamilyOptions, base: ParseOptions) -> CallPlan:
    """Resolve the family for `request`, shape the request in place, and return the per-request plan."""
    family = family_named(options.model_family) if options.model_family else family_for(request.model)
    thinking, budget = request.thinking, request.thinking_budget
    client_budget: int | None = None
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise ConfigurationError(f"thinking_budget={budget!r} must be a whole number of tokens >= 1 (or None)")
    if thinking is not None or budget is not None:
        what = f"thinking={thinking!r}" if thinking is not None else f"thinking_budget={budget}"
        style = _style(request, family, dialect, options, what)
        who = f"model {request.model!r}" + (f" (family {family.name!r})" if family else "")
        if thinking is True and style.on is None:
            raise ConfigurationError(
                f"thinking=True: {who} cannot think with thinking_style={style.name!r} ({style.doc}); "
                f"remove thinking=, or pass thinking_style= if your deployment has a switch"
            )
        if thinking is False and style.off is None:
            raise ConfigurationError(
                f"thinking=False: {who} has no off switch with thinking_style={style.name!r} ({style.doc}); "
                f"use think_tags='drop' to hide its reasoning, or pass thinking_style= if your deployment has a switch"
            )
        if budget is not None:
            if thinking is False:
                raise ConfigurationError(f"thinking_budget={budget} with thinking=False: there is no thinking to bound")
            if style.on is None:
                raise ConfigurationError(f"thinking_budget={budget}: {who} does not think (thinking_style={style.name!r})")
            if style.budget_path is None:
                if not dialect.continues_final_message:
                    raise ConfigurationError(
                        f"thinking_budget={budget}: the {dialect.name!r} dialect has no native thinking budget and "
                        f"cannot continue a final assistant message (vLLM/SGLang's continue_final_message), so the "
                        f"budget cannot be enforced; remove thinking_budget or use the 'openai' dialect"
                    )
                n = request.params.get("n")
                if isinstance(n, int) and n > 1:
                    raise ConfigurationError(f"thinking_budget={budget} with n={n}: the budget is enforced for n=1 only")
                client_budget = budget
        fields = thinking_fields(style, thinking, budget if client_budget is None else None)
        if fields:  # the caller's own model_kwargs / extra_body win over the table
            request.extra_body = merge_fields(fields, request.extra_body)

    _plan_send_back(request, family, options)

    think_tags = options.think_tags or base.think_tags
    if think_tags == "keep" and options.think_tags is None and family is not None and family.think_tags:
        think_tags = "split"
    continuing = continues_closed_reasoning(request)
    if options.think_starts_open is not None:
        starts_open = options.think_starts_open
    else:
        thinks = thinking if thinking is not None else (family.thinks_by_default if family else False)
        starts_open = bool(family and family.opens_think and thinks)
    fixes = AnswerFixes(
        reasoning_is_answer=thinking is False or continuing,
        tool_markup=options.text_tool_calls and bool(request.tools) and request.tool_choice != "none",
    )
    parse = replace(base, think_tags=think_tags, think_starts_open=starts_open and not continuing)
    return CallPlan(family, parse, fixes, client_budget)


def _plan_send_back(request: ChatRequest, family: Family | None, options: FamilyOptions) -> None:
    """Which earlier reasoning goes back to the server, and in which field (shapes `request` in place)."""
    mode = request.send_reasoning
    if mode is None:
        mode = family.send_reasoning if family else "never"
    elif mode is True:
        mode = "all"
    elif mode is False:
        mode = "never"
    elif mode not in SEND_REASONING_MODES:
        raise ConfigurationError(
            f"send_reasoning={mode!r} must be one of {', '.join(SEND_REASONING_MODES)} (or True/False/None)"
        )
    keep = select_reasoning(request.messages, mode)
    if any(m.reasoning and not k for m, k in zip(request.messages, keep)):
        request.messages = [m if k or not m.reasoning else replace(m, reasoning=None)
                            for m, k in zip(request.messages, keep)]
    request.send_reasoning = any(keep)
    request.reasoning_field = options.reasoning_field or (family.reasoning_field if family else "reasoning_content")
