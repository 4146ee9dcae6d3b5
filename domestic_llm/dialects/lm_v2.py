"""`lm_v2`: the `/lm/v2/chat/completions` LLM gateway (seed 001).

Request rules of the seed, checked before sending:

* `temperature` in (0, 1] — except `0`, which users everywhere mean as greedy: it
  is sent as 0.01 with a `UserWarning` (shown once per call site, as Python does); `top_p` in [0, 1]; `penalty_score` in
  [1, 2]; `frequency_penalty` / `presence_penalty` in [-2, 2];
* the max output is `max_completion_tokens`; `n`, `logprobs`, `top_logprobs` and
  `seed` are not part of the API and are refused with a clear error.

Messages must be odd in count and alternate `user` (or `function`) / `assistant`,
starting and ending with the user side. A LangChain conversation is folded into
that shape as follows:

1. system messages have no role of their own: their text (joined by blank lines)
   is put before the first user turn's text, separated by a blank line; when the
   first turn after them is the assistant's, it becomes a user turn of its own;
2. tool results are sent as `function` turns (`name` = the tool's name when known);
3. consecutive user-side turns (user and/or function) merge into one, texts joined
   by blank lines; the merged turn is `function` only if all of them were tool
   results, otherwise `user`;
4. consecutive assistant turns merge into one (texts joined, tool calls kept);
5. a conversation that would start with the assistant gets a user turn `"继续"`
   in front; one that ends with the assistant is refused (nothing to answer).

Answers: `finish_reason: "normal"` is normalised to `stop` (the raw value is in
`metadata["raw_finish_reason"]`); DeepSeek-style models put reasoning inline as
`<think>…</think>`, split out by default (`think_tags="split"`); usage in streams
only arrives with `stream_options.include_usage`, which is sent;
`usage.prompt_tokens_details` is kept in metadata.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from typing import Any

from ..errors import ConfigurationError
from ..types import ChatRequest, Message
from .openai import ChatCompletionsDialect

GREEDY_TEMPERATURE = 0.01

RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low_inclusive)
    "temperature": (0.0, 1.0, False),
    "top_p": (0.0, 1.0, True),
    "penalty_score": (1.0, 2.0, True),
    "frequency_penalty": (-2.0, 2.0, True),
    "presence_penalty": (-2.0, 2.0, True),
}


def _merge_text(parts: list[Any]) -> Any:
    texts = [p for p in parts if p]
    if all(isinstance(p, str) for p in texts):
        return "\n\n".join(texts)
    merged: list[dict[str, Any]] = []
    for p in texts:
        merged.extend([{"type": "text", "text": p}] if isinstance(p, str) else p)
    return merged


def fold_messages(messages: list[Message]) -> list[Message]:
    """Fold any conversation into user/function–assistant alternation (see the module docstring)."""
    system = [m.content for m in messages if m.role == "system"]
    turns: list[Message] = []
    for m in messages:
        if m.role == "system":
            continue
        side = "assistant" if m.role == "assistant" else "user"
        role = "function" if m.role == "tool" else ("assistant" if side == "assistant" else "user")
        if turns and (turns[-1].role == "assistant") == (side == "assistant"):
            last = turns[-1]
            last.content = _merge_text([last.content, m.content])
            if side == "assistant":
                last.tool_calls = [*last.tool_calls, *m.tool_calls]
                last.reasoning = last.reasoning or m.reasoning
            elif role == "user" or last.role == "user":
                last.role, last.name = "user", None
            continue
        turns.append(Message(role, m.content, name=m.name, tool_calls=list(m.tool_calls),  # type: ignore[arg-type]
                             tool_call_id=m.tool_call_id, reasoning=m.reasoning))
    if system:
        prefix = _merge_text(system)
        if turns and turns[0].role != "assistant":
            turns[0].content = _merge_text([prefix, turns[0].content])
        else:
            turns.insert(0, Message("user", prefix))
    if turns and turns[0].role == "assistant":
        turns.insert(0, Message("user", "继续"))
    if not turns:
        raise ConfigurationError("messages: lm_v2 needs at least one user message")
    if turns[-1].role == "assistant":
        raise ConfigurationError(
            "messages: lm_v2 requires the last message to be the user's (or a tool result); "
            "the conversation ends with an assistant turn"
        )
    return turns


class LMV2Dialect(ChatCompletionsDialect):
    name = "lm_v2"
    chat_path = "/lm/v2/chat/completions"
    path_pattern = re.compile(r"/lm/v2/chat/completions/?$")
    think_tags = "split"
    thinking_style = "none"
    max_tokens_field = "max_completion_tokens"
    unsupported_params = frozenset({"n", "logprobs", "top_logprobs", "seed"})
    finish_aliases = {"normal": "stop"}

    def validate(self, request: ChatRequest) -> None:
        super().validate(request)
        for name, (low, high, low_inclusive) in RANGES.items():
            value = request.params.get(name)
            if value is None or (name == "temperature" and value == 0):
                continue
            if not isinstance(value, (int, float)) or not (
                (low <= value if low_inclusive else low < value) and value <= high
            ):
                bracket = "[" if low_inclusive else "("
                raise ConfigurationError(
                    f"{name}={value!r} is outside the range lm_v2 accepts: {bracket}{low}, {high}]"
                )

    def message_to_wire(self, m: Message, send_reasoning: bool, reasoning_field: str = "reasoning_content") -> dict[str, Any]:
        d = super().message_to_wire(m, send_reasoning, reasoning_field)
        if m.role == "function":  # type: ignore[comparison-overlap]
            d.pop("tool_call_id", None)
        return d

    def messages_to_wire(self, request: ChatRequest) -> list[dict[str, Any]]:
        return [self.message_to_wire(m, bool(request.send_reasoning), request.reasoning_field)
                for m in fold_messages(request.messages)]

    def build_request(self, request: ChatRequest, **kw: Any) -> Any:
        if request.params.get("temperature") == 0:
            warnings.warn(f"lm_v2 does not accept temperature=0; sending {GREEDY_TEMPERATURE} (greedy)",
                          UserWarning, stacklevel=2)
            request = replace(request, params={**request.params, "temperature": GREEDY_TEMPERATURE})
        return super().build_request(request, **kw)

    def response_metadata(self, obj: dict[str, Any], meta: dict[str, Any]) -> None:
        super().response_metadata(obj, meta)
        usage = obj.get("usage")
        if isinstance(usage, dict) and usage.get("prompt_tokens_details") is not None:
            meta["prompt_tokens_details"] = usage["prompt_tokens_details"]
