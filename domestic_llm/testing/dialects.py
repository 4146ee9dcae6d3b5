"""The server side of each dialect: request validation, auth, and byte-exact rendering.

Each class mirrors one wire format from the seeds (`../shared/seeds/`); the
framing follows the seed examples byte for byte (e.g. `data:` with or without a
space, `event:data` lines), because that is what the client must absorb.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .replies import Reply, pieces, usage_of

CREATED = 1745725837
VALID_ROLES = {"system", "user", "assistant", "tool", "function", "developer"}


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@dataclass
class RenderContext:
    body: dict[str, Any]
    reply: Reply
    serial: int
    path_params: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.body.get("model") or "emulated")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m for m in self.body.get("messages") or [] if isinstance(m, dict)]

    @property
    def n(self) -> int:
        n = self.body.get("n")
        return n if isinstance(n, int) and n > 0 else 1

    def choice_reply(self, index: int) -> Reply:
        """Choice 0 is the reply; further choices (n > 1) differ by a suffix."""
        if index == 0 or not self.reply.text:
            return self.reply
        r = self.reply
        return Reply(r.text + f"（候选 {index + 1}）", r.reasoning, r.tool_calls, r.finish_reason)

    def usage(self) -> dict[str, int]:
        total = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "reasoning_tokens": 0}
        for i in range(self.n):
            u = usage_of(self.choice_reply(i), self.messages)
            total["completion_tokens"] += u["completion_tokens"]
            total["reasoning_tokens"] += u["reasoning_tokens"]
            total["prompt_tokens"] = u["prompt_tokens"]
        total["total_tokens"] = total["prompt_tokens"] + total["completion_tokens"]
        return total


class EmulatedDialect:
    """Base: an OpenAI-style route. Subclasses change what their seed changes."""

    name = "openai"
    route = "/v1/chat/completions"
    auth = "bearer"  # bearer | raw | x-auth-token | none
    reasoning_key = "reasoning_content"

    def example_path(self, **params: str) -> str:
        return self.route.format(**params) if params else self.route

    def authorized(self, headers: Any, key: str | None) -> bool:
        if key is None:
            return True
        if self.auth == "bearer":
            return headers.get("authorization") == f"Bearer {key}"
        if self.auth == "raw":
            return headers.get("authorization") == key
        if self.auth == "x-auth-token":
            return headers.get("x-auth-token") == key
        return True

    def thinking_of(self, body: dict[str, Any]) -> bool | None:
        kwargs = body.get("chat_template_kwargs")
        if isinstance(kwargs, dict) and "enable_thinking" in kwargs:
            return bool(kwargs["enable_thinking"])
        return None

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error" if status < 500 else "server_error",
                          "code": code}, "id": "emu-error"}

    def validate(self, body: dict[str, Any], path_params: dict[str, str]) -> tuple[str, str] | None:
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "missing_model", "model is required"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "missing_messages", "messages must be a non-empty list"
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in VALID_ROLES:
                return "invalid_role", f"messages[{i}].role is invalid"
            if m.get("role") == "tool" and not m.get("tool_call_id"):
                return "invalid_tool_message", f"messages[{i}] (tool) needs tool_call_id"
            if m.get("content") is None and m.get("role") != "assistant":
                return "invalid_content", f"messages[{i}].content must not be null"
        return None

    # ---- rendering ---------------------------------------------------------------------

    def message_json(self, reply: Reply) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.reasoning:
            msg[self.reasoning_key] = reply.reasoning
        if reply.tool_calls:
            msg["tool_calls"] = [
                {"id": tc.id or f"call_{i}", "type": "function",
                 "function": {"name": tc.name, "arguments": tc.arguments_json()}}
                for i, tc in enumerate(reply.tool_calls)
            ]
        return msg

    def usage_json(self, ctx: RenderContext) -> dict[str, Any]:
        u = ctx.usage()
        out: dict[str, Any] = {k: u[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        if u["reasoning_tokens"]:
            out["completion_tokens_details"] = {"reasoning_tokens": u["reasoning_tokens"]}
        return out

    def response_id(self, ctx: RenderContext) -> str:
        return f"chatcmpl-emu-{ctx.serial}"

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        return {
            "id": self.response_id(ctx),
            "object": "chat.completion",
            "created": CREATED,
            "model": ctx.model,
            "choices": [
                {"index": i, "message": self.message_json(ctx.choice_reply(i)), "logprobs": None,
                 "finish_reason": ctx.choice_reply(i).finish}
                for i in range(ctx.n)
            ],
            "usage": self.usage_json(ctx),
        }

    def delta_events(self, reply: Reply, index: int) -> list[dict[str, Any]]:
        """The deltas of one choice: role, reasoning pieces, text pieces, tool-call fragments."""
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{self.reasoning_key: p} for p in pieces(reply.reasoning)]
        deltas += [{"content": p} for p in pieces(reply.text)]
        for i, tc in enumerate(reply.tool_calls):
            args = tc.arguments_json()
            deltas.append({"tool_calls": [{"index": i, "id": tc.id or f"call_{i}", "type": "function",
                                           "function": {"name": tc.name, "arguments": ""}}]})
            deltas += [{"tool_calls": [{"index": i, "function": {"arguments": p}}]} for p in pieces(args, 7)]
        return deltas

    def sse(self, obj: Any) -> str:
        return f"data: {dumps(obj)}\n\n"

    def render_stream(self, ctx: RenderContext) -> list[str]:
        head = {"id": self.response_id(ctx), "object": "chat.completion.chunk", "created": CREATED, "model": ctx.model}
        events = []
        for i in range(ctx.n):
            reply = ctx.choice_reply(i)
            for delta in self.delta_events(reply, i):
                events.append(self.sse({**head, "choices": [{"index": i, "delta": delta, "logprobs": None,
                                                             "finish_reason": None}]}))
            events.append(self.sse({**head, "choices": [{"index": i, "delta": {}, "logprobs": None,
                                                         "finish_reason": reply.finish}]}))
        if (ctx.body.get("stream_options") or {}).get("include_usage"):
            events.append(self.sse({**head, "choices": [], "usage": self.usage_json(ctx)}))
        events.append("data: [DONE]\n\n")
        return events


EMULATED: list[EmulatedDialect] = [EmulatedDialect()]
