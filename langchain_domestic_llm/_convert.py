"""Translation between LangChain messages and the core's neutral types. No dialect knowledge."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk

from domestic_llm.errors import ConfigurationError
from domestic_llm.types import ChatChunk, ChatResult, Choice, Message, ToolCall, Usage
from domestic_llm.unvalidated import built, same_objects

log = logging.getLogger("domestic_llm")

PROVIDER = "domestic_llm"
_ROLE_OF_CHAT_MESSAGE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "user": "user",
                         "assistant": "assistant", "developer": "system"}


def _content(content: str | list[Any]) -> str | list[dict[str, Any]]:
    """LangChain content → text, or OpenAI-style parts when it holds more than text."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
        elif isinstance(block, dict):
            kind = block.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": block.get("text", "")})
            elif kind == "image_url":
                parts.append(block)
            elif kind == "image":
                if block.get("url"):
                    url = block["url"]
                elif block.get("base64") or block.get("data"):
                    mime = block.get("mime_type", "image/png")
                    url = f"data:{mime};base64,{block.get('base64') or block.get('data')}"
                else:
                    raise ConfigurationError(f"image content block needs url or base64: {sorted(block)}")
                parts.append({"type": "image_url", "image_url": {"url": url}})
            elif kind in ("file", "audio"):
                parts.append(_data_part(block))
            elif kind in ("reasoning", "thinking", "tool_call", "tool_use"):
                continue  # carried elsewhere (reasoning / tool_calls), never as content
            else:
                parts.append(block)
    if all(p.get("type") == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _data_part(block: dict[str, Any]) -> dict[str, Any]:
    """A LangChain `file` / `audio` block (v1 or v0) in the OpenAI chat-completions wire shape."""
    if block["type"] == "audio" and "url" in block and "base64" not in block:
        return {"type": "audio_url", "audio_url": {"url": block["url"]}}  # vLLM's extension for audio by URL
    try:
        return convert_to_openai_data_block(block, api="chat/completions")
    except (ValueError, KeyError) as exc:
        raise ConfigurationError(
            f"{block['type']} content block cannot be sent ({exc}); give base64 data with mime_type "
            f"(and a filename for files) or a file_id; keys given: {sorted(block)}"
        ) from None


def _text(content: str | list[Any]) -> str:
    c = _content(content)
    return c if isinstance(c, str) else "".join(p.get("text", "") for p in c if p.get("type") == "text")


def _reasoning_of_blocks(content: str | list[Any]) -> str | None:
    if isinstance(content, str):
        return None
    texts = [b.get("reasoning") if b.get("type") == "reasoning" else b.get("thinking")
             for b in content if isinstance(b, dict) and b.get("type") in ("reasoning", "thinking")]
    return "".join(t for t in texts if isinstance(t, str)) or None


def to_neutral(messages: Sequence[BaseMessage]) -> list[Message]:
    """LangChain messages → neutral `Message`s."""
    out: list[Message] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append(Message("system", _content(m.content)))
        elif isinstance(m, HumanMessage):
            out.append(Message("user", _content(m.content), name=m.name))
        elif isinstance(m, AIMessage):
            calls = [
                ToolCall(tc.get("id") or f"call_{i}", tc["name"], json.dumps(tc["args"], ensure_ascii=False))
                for i, tc in enumerate(m.tool_calls)
            ]
            calls += [
                ToolCall(tc.get("id") or f"call_invalid_{i}", tc.get("name") or "", tc.get("args") or "")
                for i, tc in enumerate(m.invalid_tool_calls)
            ]
            reasoning = m.additional_kwargs.get("reasoning_content")
            if not isinstance(reasoning, str) or not reasoning:
                reasoning = _reasoning_of_blocks(m.content)  # LangChain's standard `reasoning` content blocks
            out.append(
                Message("assistant", _text(m.content), name=m.name, tool_calls=calls,
                        reasoning=reasoning if isinstance(reasoning, str) else None)
            )
        elif isinstance(m, ToolMessage):
            out.append(Message("tool", _text(m.content), tool_call_id=m.tool_call_id, name=m.name))
        elif isinstance(m, FunctionMessage):
            out.append(Message("tool", _text(m.content), tool_call_id=m.name, name=m.name))
        elif isinstance(m, ChatMessage):
            role = _ROLE_OF_CHAT_MESSAGE.get(m.role)
            if role is None:
                raise ConfigurationError(f"ChatMessage role={m.role!r} is not supported; use one of {sorted(_ROLE_OF_CHAT_MESSAGE)}")
            out.append(Message(role, _content(m.content)))  # type: ignore[arg-type]
        else:
            raise ConfigurationError(f"messages: unsupported message type {type(m).__name__}")
    return out


def usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    meta = UsageMetadata(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, total_tokens=usage.total_tokens
    )
    if usage.reasoning_tokens is not None:
        meta["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    if usage.cached_tokens is not None:
        meta["input_token_details"] = InputTokenDetails(cache_read=usage.cached_tokens)
    return meta


def _tool_calls(calls: list[ToolCall]) -> tuple[list[Any], list[Any]]:
    valid, invalid = [], []
    for tc in calls:
        raw = tc.arguments.strip()
        try:
            args = json.loads(raw) if raw else {}
        except ValueError as exc:
            invalid.append(invalid_tool_call(name=tc.name, args=tc.arguments, id=tc.id, error=f"invalid JSON: {exc}"))
            continue
        if isinstance(args, dict):
            valid.append(tool_call(name=tc.name, args=args, id=tc.id))
        else:
            invalid.append(invalid_tool_call(name=tc.name, args=tc.arguments, id=tc.id,
                                             error="arguments are not a JSON object"))
    return valid, invalid


def response_metadata(meta: dict[str, Any], finish_reason: str | None, model: str, dialect: str) -> dict[str, Any]:
    out = {**meta, "model_provider": PROVIDER, "dialect": dialect, "finish_reason": finish_reason,
           "model_name": meta.get("model") or model}
    out.pop("model", None)
    return out


def to_generation(choice: Choice, result: ChatResult, model: str, dialect: str) -> ChatGeneration:
    valid, invalid = _tool_calls(choice.tool_calls)
    additional: dict[str, Any] = {}
    if choice.reasoning:
        additional["reasoning_content"] = choice.reasoning
    rmeta = response_metadata(result.metadata, choice.finish_reason, model, dialect)
    if choice.logprobs is not None:
        rmeta["logprobs"] = choice.logprobs
    message = AIMessage(
        content=choice.text,
        additional_kwargs=additional,
        tool_calls=valid,
        invalid_tool_calls=invalid,
        usage_metadata=usage_metadata(result.usage),
        response_metadata=rmeta,
        id=result.metadata.get("id"),
    )
    info: dict[str, Any] = {"finish_reason": choice.finish_reason}
    if choice.logprobs is not None:
        info["logprobs"] = choice.logprobs
    return ChatGeneration(message=message, generation_info=info)


# The chunk nearly every streamed token makes: text and/or reasoning, no tool calls, no logprobs.
# Validating its AIMessageChunk and ChatGenerationChunk costs ~12 µs, as much as the whole rest of
# the stream per chunk; for this shape their validators change nothing (string content, no
# tool-call chunks: `init_tool_calls` returns early; `set_text` copies the content as text), so
# they are built as validation leaves them (`domestic_llm.unvalidated`), if the import-time
# check below finds the two ways agree.
_TEXT_ACCESSOR = type(AIMessageChunk(content="").text)  # what `message.text` returns (a str subclass)
_MESSAGE_SET = frozenset({"content", "additional_kwargs", "tool_call_chunks", "id"})
_GENERATION_SET = frozenset({"message", "text", "generation_info"})


def _fast_delta(text: str, reasoning: str | None, message_id: str | None) -> ChatGenerationChunk:
    message = built(AIMessageChunk, {
        "content": text,
        "additional_kwargs": {"reasoning_content": reasoning} if reasoning else {},
        "response_metadata": {},
        "type": "AIMessageChunk",
        "name": None,
        "id": message_id,
        "tool_calls": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
        "tool_call_chunks": [],
        "chunk_position": None,
    }, set(_MESSAGE_SET), {})
    return cast(ChatGenerationChunk, built(ChatGenerationChunk, {
        "text": _TEXT_ACCESSOR(text), "generation_info": None, "type": "ChatGenerationChunk", "message": message,
    }, set(_GENERATION_SET)))


def validated_delta(text: str, reasoning: str | None, message_id: str | None) -> ChatGenerationChunk:
    """A text / reasoning chunk through pydantic: the reference the fast path must equal."""
    additional = {"reasoning_content": reasoning} if reasoning else {}
    return ChatGenerationChunk(
        message=AIMessageChunk(content=text, additional_kwargs=additional, tool_call_chunks=[], id=message_id),
        generation_info=None,
    )


def _fast_path_agrees() -> bool:
    probes = [("", "", None), ("长江", "", "id-1"), ("", "想", None), ("答", "想一想", "id-2")]
    try:
        if all(same_objects(_fast_delta(*p), validated_delta(*p)) for p in probes):
            return True
    except Exception:  # noqa: BLE001 - e.g. a pydantic with another instance layout: validation stands
        pass
    log.debug("domestic_llm: langchain-core's AIMessageChunk differs from what the fast path builds; "
              "streamed chunks are validated")
    return False


FAST_PATH_AGREES = _fast_path_agrees()
_delta_generation = _fast_delta if FAST_PATH_AGREES else validated_delta


def to_generation_chunk(chunk: ChatChunk, model: str, dialect: str, message_id: str | None) -> ChatGenerationChunk:
    """One neutral chunk as a LangChain chunk; `message_id` is the stream's one id (see `ChatDomestic._stream`)."""
    if not (chunk.final or chunk.tool_calls or chunk.logprobs):
        return _delta_generation(chunk.text, chunk.reasoning, message_id)  # see FAST_PATH_AGREES
    if chunk.final:
        msg = AIMessageChunk(
            content="",
            usage_metadata=usage_metadata(chunk.usage),
            response_metadata=response_metadata(chunk.metadata, chunk.finish_reason, model, dialect),
            chunk_position="last",
            id=message_id,
        )
        return ChatGenerationChunk(message=msg, generation_info={"finish_reason": chunk.finish_reason})
    additional = {"reasoning_content": chunk.reasoning} if chunk.reasoning else {}
    calls = [tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index) for d in chunk.tool_calls]
    # logprobs as ChatOpenAI streams them: generation_info, which langchain-core merges into
    # response_metadata; merged chunks concatenate their "content" lists
    info = {"logprobs": chunk.logprobs} if chunk.logprobs else None
    return ChatGenerationChunk(
        message=AIMessageChunk(content=chunk.text, additional_kwargs=additional, tool_call_chunks=calls, id=message_id),
        generation_info=info,
    )
