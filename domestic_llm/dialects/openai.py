"""`openai`: the OpenAI chat-completions dialect of vLLM, MindIE, SGLang and friends.

Also the base class of the gateway dialects that are variations of it (`ias`,
`lm_v2`, `pangu_v1`, `pangu_v2`); they override the hooks near the top of
`ChatCompletionsDialect` rather than the parsing loops.

Wire facts absorbed here:
* reasoning arrives as `reasoning_content` (vLLM until early 2026, DeepSeek,
  Pangu) or `reasoning` (vLLM since 2026); both are read;
* `choices` may be `null` or `[]` (usage-only chunks), `delta` may be `null`;
* tool-call deltas may lack `index` (then `id` starts a new call and a missing `id`
  continues the last one), `id` after the first fragment, or `arguments`;
* or repeat the call's `id` and whole `function.name` in every fragment (llama.cpp's
  server, some Qwen/LMDeploy/vLLM builds): a repeat is dropped, so that merging the
  fragments (ours, LangChain's `+`) never yields `get_weatherget_weather…`;
* usage may be repeated cumulatively on every chunk or sent once at the end:
  the last one seen is the total, reported once on the final chunk.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from ..errors import APIStatusError, ConfigurationError, error_class_for
from ..sse import SSEEvent
from ..textguard import guard_text
from ..thinking import split_think_text
from ..types import ChatChunk, ChatRequest, ChatResult, Choice, Message, ToolCall, ToolCallDelta, Usage
from .base import Dialect, ErrorInfo, HttpRequest, ParseOptions
from .jsonstream import JSONStreamParser

_TOOL_CHOICE_WORDS = {"auto": "auto", "none": "none", "required": "required", "any": "required"}


# Wire JSON is not validated per chunk (too slow); these coerce a field of the wrong
# shape to "absent" so that a malformed server answer can never raise TypeError & co.
_META_KEYS = ("id", "model", "created", "system_fingerprint")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value == value and abs(value) < 1e15:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_usage(raw: Any) -> Usage | None:
    """OpenAI-style usage (`prompt_tokens` …) into `Usage`; `None` when absent."""
    if not isinstance(raw, dict):
        return None
    inp = raw.get("prompt_tokens")
    out = raw.get("completion_tokens")
    if inp is None and out is None and raw.get("total_tokens") is None:
        return None
    inp = _int(inp)
    out = _int(out)
    total = raw.get("total_tokens")
    usage = Usage(inp, out, _int(total) if total is not None else inp + out)
    details = raw.get("completion_tokens_details")
    if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
        usage.reasoning_tokens = _int(details["reasoning_tokens"])
    details = raw.get("prompt_tokens_details")
    if isinstance(details, dict) and details.get("cached_tokens") is not None:
        usage.cached_tokens = _int(details["cached_tokens"])
    return usage


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return content if isinstance(content, str) else ""


class ChatCompletionsStream(JSONStreamParser):
    """State of one chat-completions stream; the dialect's hooks do the reading."""

    def __init__(self, dialect: ChatCompletionsDialect, options: ParseOptions) -> None:
        super().__init__(options)
        self.dialect = dialect
        # per choice: tool-call id -> index, and the last index used (for deltas lacking both)
        self.tool_ids: dict[int, dict[str, int]] = {}
        self.tool_last: dict[int, int] = {}
        # per (choice, call index): the id and name already passed on, to drop their repeats
        self.tool_sent: dict[tuple[int, int], list[str | None]] = {}

    def read_object(self, obj: dict[str, Any]) -> list[ChatChunk]:
        return self.dialect.read_stream_object(self, obj)

    def on_dataless_event(self, event: SSEEvent) -> list[ChatChunk]:
        return self.dialect.on_dataless_event(self, event)

    def tool_delta(self, index: int, raw: dict[str, Any]) -> ToolCallDelta:
        fn = _dict(raw.get("function"))
        call_id = raw.get("id") or None
        if call_id is not None and not isinstance(call_id, str):
            call_id = str(call_id)
        idx = raw.get("index")
        if not isinstance(idx, int) or isinstance(idx, bool):
            idx = None
        ids = self.tool_ids.setdefault(index, {})
        if idx is None:
            # vLLM's hermes parser may omit `index`: a new id starts a call, no id continues one
            if call_id is None:
                idx = self.tool_last.get(index, 0)
            else:
                idx = ids.get(call_id, len(ids))
        if call_id is not None:
            ids.setdefault(call_id, idx)
        self.tool_last[index] = idx
        args = fn.get("arguments")
        if args is not None and not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        name = _str(fn.get("name")) or None
        sent = self.tool_sent.setdefault((index, idx), [None, None])
        if call_id is not None:
            if sent[0] is not None:
                call_id = None  # a call has one id: later ones (repeats) are not news
            else:
                sent[0] = call_id
        if name is not None:
            if name == sent[1]:
                name = None  # the whole name again, not a further fragment of it
            else:
                sent[1] = (sent[1] or "") + name
        return ToolCallDelta(idx, call_id, name, args)


class ChatCompletionsDialect(Dialect):
    """OpenAI chat completions. Subclasses adjust the hooks, not the loops."""

    name: ClassVar[str] = "openai"
    chat_path: ClassVar[str] = "/chat/completions"
    path_pattern: ClassVar[re.Pattern[str] | None] = re.compile(r"/chat/completions/?$")
    #: key of the incremental message in a stream choice
    delta_key: ClassVar[str] = "delta"
    #: name of the max-output-tokens field
    max_tokens_field: ClassVar[str] = "max_tokens"
    #: params this API does not know: setting one is an error, not a silent drop
    unsupported_params: ClassVar[frozenset[str]] = frozenset({"penalty_score"})
    #: finish reasons renamed to OpenAI's vocabulary
    finish_aliases: ClassVar[dict[str, str]] = {}
    content_part_types: ClassVar[frozenset[str]] = frozenset({"text", "image_url"})

    # ---- request --------------------------------------------------------------------

    def validate(self, request: ChatRequest) -> None:
        self.check_content_parts(request)
        for key in self.unsupported_params:
            value = request.params.get(key)
            if value is not None and not (key == "n" and value == 1):
                raise ConfigurationError(
                    f"{key}={value!r} is not accepted by the {self.name!r} dialect; remove it"
                    + (" (vLLM calls it repetition_penalty: pass it in model_kwargs)" if key == "penalty_score" else "")
                )

    def message_to_wire(self, m: Message, send_reasoning: bool, reasoning_field: str = "reasoning_content") -> dict[str, Any]:
        d: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.name and m.role != "tool":  # OpenAI tool turns have no `name`; strict servers reject it
            d["name"] = m.name
        if m.tool_calls:
            d["tool_calls"] = [
                {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
                for tc in m.tool_calls
            ]
        if m.tool_call_id is not None:
            d["tool_call_id"] = m.tool_call_id
        if send_reasoning and m.reasoning:
            d[reasoning_field] = m.reasoning
        return d

    def messages_to_wire(self, request: ChatRequest) -> list[dict[str, Any]]:
        return [self.message_to_wire(m, bool(request.send_reasoning), request.reasoning_field) for m in request.messages]

    def tool_choice_to_wire(self, choice: str | dict[str, Any], tools: list[dict[str, Any]] | None = None) -> Any:
        if isinstance(choice, dict):
            return choice
        word = _TOOL_CHOICE_WORDS.get(choice)
        if word == "required" and tools is not None and len(tools) == 1:
            # "some tool" with one tool means that tool; servers that ignore "required"
            # (llama.cpp, older vLLM) honour a named function
            name = _dict(tools[0].get("function")).get("name")
            if isinstance(name, str) and name:
                return {"type": "function", "function": {"name": name}}
        if word:
            return word
        return {"type": "function", "function": {"name": choice}}

    def build_request(
        self, request: ChatRequest, *, url: str, stream: bool, headers: dict[str, str], options: ParseOptions
    ) -> HttpRequest:
        body: dict[str, Any] = {"model": request.model, "messages": self.messages_to_wire(request)}
        unsupported = self.unsupported_params
        for key, value in request.params.items():
            if value is None or key in unsupported:
                continue
            if key == "max_tokens":
                key = self.max_tokens_field
            body[key] = value
        if request.tools:
            body["tools"] = request.tools
            if request.tool_choice is not None:
                body["tool_choice"] = self.tool_choice_to_wire(request.tool_choice, request.tools)
        if request.response_format is not None:
            body["response_format"] = request.response_format
        if stream:
            body["stream"] = True
            if options.include_usage and self.accepts_stream_options:
                body["stream_options"] = {"include_usage": True}
        for key, value in request.extra_body.items():
            if isinstance(value, dict) and isinstance(body.get(key), dict):
                body[key] = {**body[key], **value}
            else:
                body[key] = value
        return HttpRequest("POST", url, headers, body)

    # ---- hooks for variants ------------------------------------------------------------

    def normalize_finish(self, raw: Any) -> str | None:
        if raw is None:
            return None
        raw = str(raw)
        return self.finish_aliases.get(raw, raw)

    def response_metadata(self, obj: dict[str, Any], meta: dict[str, Any]) -> None:
        """Copy ids and names from a response object or stream chunk into `meta` (first seen wins)."""
        for key in _META_KEYS:
            if key not in meta:
                value = obj.get(key)
                if value is not None:
                    meta[key] = value

    def choice_extras(self, choice: dict[str, Any], message: dict[str, Any], meta: dict[str, Any]) -> None:
        """Dialect flags carried on a choice or delta (e.g. `stop_reason`)."""
        stop_reason = choice.get("stop_reason")
        if stop_reason is not None:
            meta["stop_reason"] = stop_reason

    def on_dataless_event(self, state: ChatCompletionsStream, event: SSEEvent) -> list[ChatChunk]:
        """An event with an `event:` line but no data (keep-alives, trailers)."""
        return []

    def error_in_body(self, obj: dict[str, Any]) -> ErrorInfo | None:
        """An error reported inside a 200 body or a stream chunk, if any."""
        if "error" in obj and not obj.get("choices"):
            return self.parse_error(200, obj)
        return None

    def raise_body_error(self, info: ErrorInfo) -> None:
        raise error_class_for(_status_from_code(info.code), info.message)(
            info.message or "the server reported an error",
            code=info.code,
            server_message=info.message,
            request_id=info.request_id,
        )

    # ---- response ----------------------------------------------------------------------

    def parse_response(self, body: Any, options: ParseOptions) -> ChatResult:
        if not isinstance(body, dict):
            raise APIStatusError("the server's answer is not a JSON object", body=body)
        err = self.error_in_body(body)
        if err is not None:
            self.raise_body_error(err)
        meta: dict[str, Any] = {}
        self.response_metadata(body, meta)
        choices = []
        for position, raw_choice in enumerate(_list(body.get("choices"))):
            if not isinstance(raw_choice, dict):
                continue
            msg = _dict(raw_choice.get("message"))
            text = _text_of(msg.get("content"))
            reasoning = _str(msg.get("reasoning_content")) or _str(msg.get("reasoning"))
            if text and (options.stop or options.markers or options.trim_role_leaks):
                text = guard_text(text, options.stop, options.markers, options.trim_role_leaks)
            if options.think_tags != "keep" and text:
                r, text = split_think_text(text, options.think_tags, options.think_starts_open and not reasoning)
                reasoning = reasoning + r if reasoning else r
            calls = []
            for i, tc in enumerate(_list(msg.get("tool_calls"))):
                if not isinstance(tc, dict):
                    continue
                fn = _dict(tc.get("function"))
                args = fn.get("arguments")
                if args is None:
                    args = ""
                elif not isinstance(args, str):
                    args = json.dumps(args, ensure_ascii=False)
                calls.append(ToolCall(str(tc.get("id") or f"call_{position}_{i}"), _str(fn.get("name")), args))
            raw_finish = raw_choice.get("finish_reason")
            finish = self.normalize_finish(raw_finish)
            if raw_finish is not None and raw_finish != finish:
                meta.setdefault("raw_finish_reason", raw_finish)
            self.choice_extras(raw_choice, msg, meta)
            index = raw_choice.get("index")
            choices.append(
                Choice(
                    index=index if isinstance(index, int) else position,
                    text=text,
                    reasoning=reasoning,
                    tool_calls=calls,
                    finish_reason=finish,
                    logprobs=raw_choice.get("logprobs"),
                )
            )
        return ChatResult(choices, self.read_usage(body), meta)

    def read_usage(self, obj: dict[str, Any]) -> Usage | None:
        return parse_usage(obj.get("usage"))

    def stream_parser(self, options: ParseOptions) -> ChatCompletionsStream:
        return ChatCompletionsStream(self, options)

    def read_stream_object(self, state: ChatCompletionsStream, obj: dict[str, Any]) -> list[ChatChunk]:
        """One decoded stream chunk → delta chunks; end-of-answer facts go into `state`."""
        err = self.error_in_body(obj)
        if err is not None:
            self.raise_body_error(err)
        meta = state.meta
        self.response_metadata(obj, meta)
        usage = self.read_usage(obj)
        if usage is not None:
            state.usage = usage  # cumulative or final: the last one is the total
        out: list[ChatChunk] = []
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices:
            return out
        # the per-token path: no calls where the common delta (text or reasoning only) needs none
        delta_key = self.delta_key
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", position)
            if index.__class__ is not int:
                index = position
            delta = choice.get(delta_key)
            if not isinstance(delta, dict):
                delta = {}
            text = delta.get("content") or ""
            if text.__class__ is not str:
                text = _text_of(text)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
            if reasoning.__class__ is not str:
                reasoning = _str(reasoning)
            if text or reasoning:
                text, reasoning = state.text_delta(index, text, reasoning)
            raw_calls = delta.get("tool_calls")
            calls = [state.tool_delta(index, tc) for tc in raw_calls if isinstance(tc, dict)] if (
                raw_calls.__class__ is list) else []
            self.choice_extras(choice, delta, meta)
            logprobs = choice.get("logprobs")
            if text or reasoning or calls or logprobs:
                out.append(ChatChunk(index, text, reasoning, calls, id=meta.get("id"), logprobs=logprobs or None))
            raw_finish = choice.get("finish_reason")
            if raw_finish is not None:
                state.set_finish(index, raw_finish, self.normalize_finish(raw_finish))
        return out


def _status_from_code(code: str | None) -> int:
    """An HTTP-like status for an error reported in a 200 body (for picking the class)."""
    if isinstance(code, str) and code.isdigit() and 400 <= int(code) < 600:
        return int(code)
    return 500


class OpenAIDialect(ChatCompletionsDialect):
    """vLLM / MindIE / any OpenAI-compatible server (`/v1/chat/completions`, optional Bearer)."""

    name = "openai"
    path_rank = 10  # every gateway path also ends in /chat/completions
    # files and audio as OpenAI sends them; audio_url / video_url are vLLM's multimodal extensions
    content_part_types = frozenset({"text", "image_url", "file", "input_audio", "audio_url", "video_url"})
    continues_final_message = True
