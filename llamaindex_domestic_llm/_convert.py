"""Translation between LlamaIndex chat types and the core's neutral types. No dialect knowledge."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from domestic_llm.errors import ConfigurationError
from domestic_llm.types import ChatResult, Message, ToolCall, Usage

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.url:
        return {"type": "image_url", "image_url": {"url": str(block.url)}}
    data = block.image
    if data is None and block.path is not None:
        data = base64.b64encode(block.path.read_bytes())
    if data is None:
        raise ConfigurationError("ImageBlock needs url, image or path")
    text = data.decode() if isinstance(data, bytes) else str(data)
    return {"type": "image_url", "image_url": {"url": f"data:{block.image_mimetype or 'image/png'};base64,{text}"}}


def _openai_tool_calls(raw: Any) -> list[ToolCall]:
    """Tool calls stored the OpenAI way in `additional_kwargs["tool_calls"]` (histories from other LLMs)."""
    calls = []
    for i, tc in enumerate(raw or ()):
        tc = tc if isinstance(tc, dict) else getattr(tc, "model_dump", lambda: {})()
        fn = tc.get("function") or {}
        args = fn.get("arguments")
        calls.append(ToolCall(tc.get("id") or f"call_{i}", fn.get("name") or "",
                              args if isinstance(args, str) else json.dumps(args or {}, ensure_ascii=False)))
    return calls


def to_neutral(messages: Sequence[ChatMessage]) -> list[Message]:
    """LlamaIndex messages → neutral `Message`s (thinking becomes `reasoning`, sent only on request)."""
    out: list[Message] = []
    for m in messages:
        role = _ROLES.get(m.role)
        if role is None:
            raise ConfigurationError(f"message role {m.role!r} is not supported")
        parts: list[dict[str, Any]] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for block in m.blocks:
            if isinstance(block, TextBlock):
                parts.append({"type": "text", "text": block.text})
            elif isinstance(block, ImageBlock):
                parts.append(_image_part(block))
            elif isinstance(block, ThinkingBlock):
                if block.content:
                    reasoning.append(block.content)
            elif isinstance(block, ToolCallBlock):
                kwargs = block.tool_kwargs
                calls.append(ToolCall(block.tool_call_id or f"call_{len(calls)}", block.tool_name,
                                      kwargs if isinstance(kwargs, str) else json.dumps(kwargs, ensure_ascii=False)))
        if not calls:
            calls = _openai_tool_calls(m.additional_kwargs.get("tool_calls"))
        content: str | list[dict[str, Any]]
        if all(p["type"] == "text" for p in parts):
            content = "".join(p["text"] for p in parts)
        else:
            content = parts
        out.append(Message(
            role,  # type: ignore[arg-type]
            content,
            name=m.additional_kwargs.get("name"),
            tool_calls=calls,
            tool_call_id=m.additional_kwargs.get("tool_call_id") if role == "tool" else None,
            reasoning="".join(reasoning) or None,
        ))
    return out


def usage_dict(usage: Usage | None) -> dict[str, int]:
    """Usage under the names LlamaIndex's token counter reads (OpenAI's)."""
    if usage is None:
        return {}
    out = {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
           "total_tokens": usage.total_tokens}
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    if usage.cached_tokens is not None:
        out["cached_tokens"] = usage.cached_tokens
    return out


def assistant_message(text: str, reasoning: str, calls: list[tuple[str | None, str, str]],
                      reasoning_tokens: int | None = None) -> ChatMessage:
    """An assistant message: ThinkingBlock first, then the text, then tool calls."""
    blocks: list[Any] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning, num_tokens=reasoning_tokens))
    if text or not calls:
        blocks.append(TextBlock(text=text))
    blocks += [ToolCallBlock(tool_call_id=cid, tool_name=name, tool_kwargs=args) for cid, name, args in calls]
    # also the OpenAI shape in additional_kwargs: llama-index-core reads tool calls from there
    # (streamed structured output, chat engines) before asking get_tool_calls_from_response
    extra = {"tool_calls": [{"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                            for cid, name, args in calls]} if calls else {}
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=extra)


def to_logprobs(raw: Any) -> list[list[LogProb]]:
    """OpenAI logprobs (`{"content": [{token, logprob, bytes, top_logprobs}]}`) as LlamaIndex's per-token lists.

    Each token's list holds its `top_logprobs` when the server sent them (as
    llama-index-llms-openai does), else the chosen token alone.
    """
    content = raw.get("content") if isinstance(raw, dict) else None
    out: list[list[LogProb]] = []
    for entry in content if isinstance(content, list) else ():
        if not isinstance(entry, dict):
            continue
        alternatives = entry.get("top_logprobs") or [entry]
        out.append([_logprob(a) for a in alternatives if isinstance(a, dict)])
    return out


def _logprob(entry: dict[str, Any]) -> LogProb:
    value = entry.get("logprob")
    raw_bytes = entry.get("bytes")
    return LogProb(token=str(entry.get("token") or ""), logprob=float(value) if isinstance(value, (int, float)) else 0.0,
                   bytes=raw_bytes if isinstance(raw_bytes, list) else [])


def end_kwargs(finish_reason: str | None, usage: Usage | None, metadata: dict[str, Any], dialect: str) -> dict[str, Any]:
    """`additional_kwargs` / `raw` of a complete answer: usage, finish reason, ids, dialect flags."""
    return {**metadata, **usage_dict(usage), "usage": usage_dict(usage), "finish_reason": finish_reason,
            "dialect": dialect}


def chat_response(result: ChatResult, dialect: str) -> ChatResponse:
    choice = result.choices[0]
    reasoning_tokens = result.usage.reasoning_tokens if result.usage else None
    message = assistant_message(choice.text, choice.reasoning,
                                [(c.id, c.name, c.arguments) for c in choice.tool_calls], reasoning_tokens)
    extra = end_kwargs(choice.finish_reason, result.usage, result.metadata, dialect)
    if choice.reasoning:
        extra["reasoning_content"] = choice.reasoning
    return ChatResponse(message=message, raw=extra, additional_kwargs=extra,
                        logprobs=to_logprobs(choice.logprobs) or None)
