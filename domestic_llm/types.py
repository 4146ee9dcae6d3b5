"""Neutral request / result / chunk / usage types shared by every dialect and adapter.

They are plain slotted dataclasses, not pydantic models: a stream creates one
`ChatChunk` per server event, and validating each of them would cost more than
parsing the JSON it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
AuthScheme = str
"""How a key is sent: `bearer`, `raw`, `x-auth-token`, `basic`, `none`, `header:<Name>` or `query:<name>`
(checked and applied by `domestic_llm.credentials`)."""


@dataclass(slots=True)
class HttpRequest:
    """Everything the transport needs to send one request (built by a dialect)."""

    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolCall:
    """A complete tool call requested by the model.

    `arguments` is the raw JSON text exactly as the server sent it; adapters
    parse it, so that invalid JSON can be reported instead of raised.
    """

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Message:
    """One conversation turn.

    `content` is text, or a list of OpenAI-style content parts
    (`{"type": "text", ...}`, `{"type": "image_url", ...}`) for multimodal turns.
    `reasoning` is earlier reasoning text of an assistant turn, sent back only
    by the rule `ChatRequest.send_reasoning` resolves to (see `families.select_reasoning`).
    """

    role: Role
    content: str | list[dict[str, Any]] = ""
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    reasoning: str | None = None


@dataclass(slots=True)
class ChatRequest:
    """A chat completion request, before any dialect has shaped it.

    `params` holds sampling parameters under their OpenAI names (`temperature`,
    `top_p`, `max_tokens`, `stop`, `n`, `seed`, `presence_penalty`,
    `frequency_penalty`, `logprobs`, `top_logprobs`) plus dialect-specific ones
    (`top_k`, `penalty_score`); `None` values are never sent. `tools` are
    OpenAI function-tool dicts. `extra_body` is merged into the JSON body last.
    `prompt`, when set, is a completion prompt: prompt-style dialects send it as
    written (no chat template); chat dialects send `messages`.

    `thinking` switches thinking on/off in the field the model family or endpoint
    understands, `thinking_budget` bounds it (tokens); `send_reasoning` is
    `"tool_turns"`, `"all"`, `"never"`, `True` (all), `False` (never) or `None` (the
    family's default), resolved to a plain bool before the dialect sees the request;
    `reasoning_field` names the field that carries it back.
    """

    model: str
    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    thinking: bool | None = None
    send_reasoning: bool | str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    thinking_budget: int | None = None
    reasoning_field: str = "reasoning_content"


@dataclass(slots=True)
class Usage:
    """Token counts of one answer (all choices together)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with equal `index` belong together."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


@dataclass(slots=True)
class ChatChunk:
    """One increment of a streamed answer.

    Delta fields (`text`, `reasoning`, `tool_calls`, `logprobs`) come as the bytes arrive.
    The end-of-answer fields (`finish_reason`, `usage`, `metadata`) are set on
    exactly one chunk, the last one (`final=True`), so that frameworks which add
    chunks together count usage once.
    """

    choice: int = 0
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    final: bool = False
    finish_reason: str | None = None
    usage: Usage | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: the server's response id, on every chunk from the first one that knew it (`None` if it sends none)
    id: str | None = None
    #: OpenAI-style logprobs of this delta's tokens (`{"content": [...]}`), when requested and sent
    logprobs: Any = None


@dataclass(slots=True)
class Choice:
    """One complete alternative answer (`n > 1` gives several)."""

    index: int = 0
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    logprobs: Any = None


@dataclass(slots=True)
class ChatResult:
    """A complete, non-streamed answer.

    `metadata` holds the response id, model name, the raw finish reason where the
    dialect normalised it, request/trace ids and dialect flags
    (e.g. `sensitive`, `moderation_blocked`).
    """

    choices: list[Choice]
    usage: Usage | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Text of the first choice."""
        return self.choices[0].text if self.choices else ""

    @property
    def reasoning(self) -> str:
        """Reasoning of the first choice."""
        return self.choices[0].reasoning if self.choices else ""
