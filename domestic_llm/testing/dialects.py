"""The server side of each dialect: request validation, auth, and byte-exact rendering.

Each class mirrors one wire format from the seeds (`../shared/seeds/`); the
framing follows the seed examples byte for byte (e.g. `data:` with or without a
space, `event:data` lines), because that is what the client must absorb.
"""

from __future__ import annotations

from typing import Any

from .behaviours import thinking_requested
from .context import CREATED, RenderContext, dumps
from .replies import Reply, logprobs_json, pieces

VALID_ROLES = {"system", "user", "assistant", "tool", "function", "developer"}


class EmulatedDialect:
    """Base: an OpenAI-style route. Subclasses change what their seed changes."""

    name = "openai"
    route = "/v1/chat/completions"
    auth = "bearer"  # bearer | raw | x-auth-token | none
    reasoning_key = "reasoning_content"
    stream_media_type = "text/event-stream"
    validation_status = 400

    @property
    def routes(self) -> tuple[str, ...]:
        """Every POST route of this dialect (prompt-style servers have a streaming route of their own)."""
        return (self.route,)

    def example_path(self, **params: str) -> str:
        return self.route.format(**params) if params else self.route

    def is_stream(self, body: dict[str, Any], path: str) -> bool:
        return body.get("stream") in (True, "true")

    def serving(self, body: Any) -> EmulatedDialect:
        """The emulated server answering `body` on this route (this one, unless another shares the route)."""
        return self

    def chat_view(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request as a chat body (`model`, `messages`, sampling fields) for the emulated model."""
        return body

    def unknown_model(self, body: dict[str, Any], path_params: dict[str, str],
                      served: list[str] | None) -> tuple[int, dict[str, Any]] | None:
        """vLLM's 404 for a model it does not serve (only when the emulator was told what it serves)."""
        model = body.get("model")
        if served is None or model in served:
            return None
        return 404, {"object": "error", "message": f"The model `{model}` does not exist.", "type": "NotFoundError",
                     "param": None, "code": 404}

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
        return thinking_requested(body)  # only the field the model's family reads

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
            if m.get("content") is None:  # real servers reject null content (some with a 500)
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
                {"index": i, "message": self.message_json(ctx.choice_reply(i)),
                 "logprobs": logprobs_json(ctx.body, pieces(self.message_json(ctx.choice_reply(i))["content"] or "")),
                 "finish_reason": ctx.choice_reply(i).finish}
                for i in range(ctx.n)
            ],
            "usage": self.usage_json(ctx),
        }

    def delta_events(self, reply: Reply, index: int, tool_style: str = "openai") -> list[dict[str, Any]]:
        """The deltas of one choice: role, reasoning pieces, text pieces, tool-call fragments.

        `tool_style="hermes"` imitates vLLM's hermes parser: no `index`, the `id` only on
        the first fragment of a call, and that first fragment without `arguments`;
        `"repeat"` imitates llama.cpp's server: every fragment repeats the call's `id`,
        `type` and whole `function.name`.
        """
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{self.reasoning_key: p} for p in pieces(reply.reasoning)]
        deltas += [{"content": p} for p in pieces(reply.text)]
        hermes = tool_style == "hermes"
        for i, tc in enumerate(reply.tool_calls):
            args = tc.arguments_json()
            head: dict[str, Any] = {"id": tc.id or f"call_{i}", "type": "function", "function": {"name": tc.name}}
            if not hermes:
                head["index"] = i
                head["function"]["arguments"] = ""
            deltas.append({"tool_calls": [head]})
            for p in pieces(args, 7):
                frag: dict[str, Any] = {"function": {"arguments": p}}
                if not hermes:
                    frag["index"] = i
                if tool_style == "repeat":
                    frag.update(id=head["id"], type="function")
                    frag["function"] = {"name": tc.name, "arguments": p}
                deltas.append({"tool_calls": [frag]})
        return deltas

    # framing and per-chunk hooks, overridden per dialect
    delta_key = "delta"
    usage_each_chunk = False  # Pangu repeats cumulative usage on every chunk
    usage_always = False  # send the usage chunk even without stream_options.include_usage

    def sse(self, obj: Any) -> str:
        return f"data: {dumps(obj)}\n\n"

    def done(self) -> str:
        return "data: [DONE]\n\n"

    def head(self, ctx: RenderContext) -> dict[str, Any]:
        return {"id": self.response_id(ctx), "object": "chat.completion.chunk", "created": CREATED, "model": ctx.model}

    def finish_name(self, finish: str) -> str:
        return finish

    def stream_choice(self, index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"index": index, self.delta_key: delta, "logprobs": None, "finish_reason": finish}

    def trailer(self, ctx: RenderContext) -> list[str]:
        return []

    def render_stream(self, ctx: RenderContext) -> list[str]:
        head = self.head(ctx)
        usage = self.usage_json(ctx)
        prompt = usage["prompt_tokens"]
        emitted = 0
        events = []

        def chunk(choices: Any, final_usage: bool = False) -> str:
            obj = {**head, "choices": choices}
            if self.usage_each_chunk or final_usage:
                obj["usage"] = usage if final_usage else {"prompt_tokens": prompt, "total_tokens": prompt + emitted,
                                                          "completion_tokens": emitted}
            return self.sse(obj)

        for i in range(ctx.n):
            reply = ctx.choice_reply(i)
            for delta in self.delta_events(reply, i, ctx.options.get("tool_deltas", "openai")):
                if any(delta.get(k) for k in ("content", self.reasoning_key)) or (
                    delta.get("tool_calls") and delta["tool_calls"][0].get("id")
                ):
                    emitted += 1
                choice = self.stream_choice(i, delta, None)
                if delta.get("content"):
                    choice["logprobs"] = logprobs_json(ctx.body, [delta["content"]])
                events.append(chunk([choice]))
            events.append(chunk([self.stream_choice(i, {}, self.finish_name(reply.finish))]))
        if self.usage_always or (ctx.body.get("stream_options") or {}).get("include_usage"):
            events.append(chunk([], final_usage=True))
        return events + self.trailer(ctx) + [self.done()]


class EmulatedIAS(EmulatedDialect):
    """Seed 000: raw token, `event:data` + `data:{...}` framing, `choices: null` usage chunk."""

    name = "ias"
    route = "/lmp-cloud-ias-server/api/llm/chat/completions"
    auth = "raw"

    def thinking_of(self, body: dict[str, Any]) -> bool | None:
        return False

    def sse(self, obj: Any) -> str:
        return f"event:data\ndata:{dumps(obj)}\n\n"

    def done(self) -> str:
        return "event:data\ndata:[DONE]\n\n"

    def head(self, ctx: RenderContext) -> dict[str, Any]:
        trace = f"b904eeb3-emu-{ctx.serial}"
        return {"id": trace, "appId": "564866165928038400", "globalTraceId": trace, "object": "chat.completion.chunk",
                "created": CREATED}

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        body = super().render_json(ctx)
        head = self.head(ctx)
        return {**body, "id": head["id"], "appId": head["appId"], "globalTraceId": head["globalTraceId"]}

    def render_stream(self, ctx: RenderContext) -> list[str]:
        head = self.head(ctx)
        sensitive = "敏感" in "".join(str(m.get("content")) for m in ctx.messages)
        events = []
        reply = ctx.reply
        deltas = [{"role": "assistant", "content": "", "isSensitiveWord": False}]
        deltas += [{"role": None, "content": "", self.reasoning_key: p, "isSensitiveWord": False}
                   for p in pieces(reply.reasoning)]
        deltas += [{"role": None, "content": p, "isSensitiveWord": sensitive and i == 0}
                   for i, p in enumerate(pieces(reply.text))]
        for d in deltas:
            events.append(self.sse({**head, "choices": [{"finish_reason": None, "index": 0, "delta": d}], "usage": None}))
        events.append(self.sse({**head, "choices": [{"finish_reason": reply.finish, "index": 0, "delta": {
            "role": None, "content": "", "isSensitiveWord": False}}], "usage": None}))
        u = self.usage_json(ctx)
        events.append(self.sse({**head, "choices": None, "usage": {k: u[k] for k in ("prompt_tokens", "completion_tokens",
                                                                                      "total_tokens")}}))
        return events + [self.done()]


class EmulatedLMV2(EmulatedDialect):
    """Seed 001: strict request rules, `normal` finish, inline <think> for DeepSeek-style models."""

    name = "lm_v2"
    route = "/lm/v2/chat/completions"
    allowed = {"model", "messages", "stream", "stream_options", "temperature", "top_p", "top_k", "penalty_score",
               "max_completion_tokens", "frequency_penalty", "presence_penalty", "tools", "tool_choice", "stop",
               "response_format", "user"}

    def thinking_of(self, body: dict[str, Any]) -> bool | None:
        return None

    def validate(self, body: dict[str, Any], path_params: dict[str, str]) -> tuple[str, str] | None:
        problem = super().validate(body, path_params)
        if problem:
            return problem
        unknown = sorted(set(body) - self.allowed)
        if unknown:
            return "invalid_parameter", f"unknown parameters: {unknown}"
        messages = body["messages"]
        if len(messages) % 2 == 0:
            return "invalid_messages", "messages must have an odd number of members"
        for i, m in enumerate(messages):
            want = ("user", "function") if i % 2 == 0 else ("assistant",)
            if m.get("role") not in want:
                return "invalid_messages", f"messages[{i}].role must be {' or '.join(want)}, got {m.get('role')!r}"
        for name, low, high, low_open in (("temperature", 0, 1, True), ("top_p", 0, 1, False),
                                          ("penalty_score", 1, 2, False), ("frequency_penalty", -2, 2, False),
                                          ("presence_penalty", -2, 2, False)):
            v = body.get(name)
            if v is not None and not ((low < v if low_open else low <= v) and v <= high):
                return "invalid_parameter", f"{name} out of range: {v}"
        return None

    @staticmethod
    def inline(reply: Reply) -> Reply:
        if not reply.reasoning:
            return reply
        return Reply(f"<think>\n{reply.reasoning}\n</think>\n\n{reply.text}", "", reply.tool_calls, reply.finish_reason)

    def finish_name(self, finish: str) -> str:
        return "normal" if finish == "stop" else finish

    def message_json(self, reply: Reply) -> dict[str, Any]:
        return super().message_json(self.inline(reply))

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        body = super().render_json(ctx)
        for c in body["choices"]:
            c["finish_reason"] = self.finish_name(c["finish_reason"])
        return body

    def delta_events(self, reply: Reply, index: int, tool_style: str = "openai") -> list[dict[str, Any]]:
        return super().delta_events(self.inline(reply), index, tool_style)


class EmulatedPanguV2(EmulatedDialect):
    """Seed 002 V2: `data:` without a space, cumulative usage on every chunk."""

    name = "pangu_v2"
    route = "/api/v2/chat/completions"
    usage_each_chunk = True
    usage_always = True

    def sse(self, obj: Any) -> str:
        return f"data:{dumps(obj)}\n\n"

    def done(self) -> str:
        return "data:[DONE]\n\n"

    def stream_choice(self, index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        out = super().stream_choice(index, delta, finish)
        if finish is not None:
            out["stop_reason"] = None
        return out


class EmulatedPanguV1(EmulatedPanguV2):
    """Seed 002 V1: X-Auth-Token, `message` instead of `delta`, usage trailer, moderation block."""

    name = "pangu_v1"
    route = "/v1/{project_id}/deployments/{deployment_id}/chat/completions"
    auth = "x-auth-token"
    delta_key = "message"
    BLOCK_REPLY = "抱歉，这个问题我无法回答。"

    def example_path(self, **params: str) -> str:
        return self.route.format(project_id=params.get("project_id", "p-emu"),
                                 deployment_id=params.get("deployment_id", "d-emu"))

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"error_msg": message, "error_code": f"PANGU.{status}", "details": [{"code": code}]}

    def validate(self, body: dict[str, Any], path_params: dict[str, str]) -> tuple[str, str] | None:
        body.setdefault("model", "pangu")  # V1 does not need `model`
        return super().validate(body, path_params)

    def blocked(self, ctx: RenderContext) -> bool:
        return "违规" in "".join(str(m.get("content")) for m in ctx.messages)

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        if self.blocked(ctx):
            return {"suggestion": "block", "reply": self.BLOCK_REPLY}
        return super().render_json(ctx)

    def trailer(self, ctx: RenderContext) -> list[str]:
        u = self.usage_json(ctx)
        camel = {"completionTokens": u["completion_tokens"], "promptTokens": u["prompt_tokens"],
                 "totalTokens": u["total_tokens"]}
        return [f"event:{dumps({'usage': camel, 'tokens': u['prompt_tokens'], 'token_number': u['completion_tokens']})}\n\n"]

    def render_stream(self, ctx: RenderContext) -> list[str]:
        events = super().render_stream(ctx)
        if self.blocked(ctx):
            # a little of the answer, then the moderation block ends it
            return events[:3] + [self.sse({"suggestion": "block", "reply": self.BLOCK_REPLY}), self.done()]
        return events


EMULATED: list[EmulatedDialect] = [EmulatedDialect(), EmulatedIAS(), EmulatedLMV2(), EmulatedPanguV1(), EmulatedPanguV2()]


def _register_prompt_servers() -> None:
    from .prompt_servers import EmulatedTGI, EmulatedTriton, EmulatedVLLMGenerate

    EMULATED.append(EmulatedTGI())
    EMULATED.append(EmulatedVLLMGenerate())
    EMULATED.append(EmulatedTriton())


_register_prompt_servers()
