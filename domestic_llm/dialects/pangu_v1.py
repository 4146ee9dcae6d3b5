"""`pangu_v1`: Huawei Cloud Pangu's own interface (seed 002).

`POST /v1/{project_id}/deployments/{deployment_id}/chat/completions` with an IAM
token in `X-Auth-Token` (tokens expire: use a `token_provider`, e.g.
`domestic_llm.auth.HuaweiIAMTokenProvider`). Differences from `pangu_v2`:

* stream chunks carry the increment under `message` instead of `delta`;
* after the usage-only chunk comes a trailer line
  `event:{"usage":{"completionTokens":…,"promptTokens":…,"totalTokens":…},…}` —
  an SSE event with a JSON name and no data; its usage is used only if no chunk
  carried one;
* content moderation ends a stream (or forms a whole answer) with
  `{"suggestion": "block", "reply": "…"}`: the seed says the fallback `reply` is
  the valid reply, so it becomes answer text, `finish_reason` is
  `content_filter`, and `metadata["moderation_blocked"]` is set;
* errors are `{"error_msg", "error_code", "details"}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ConfigurationError
from ..sse import SSEEvent
from ..types import ChatChunk, ChatResult, Choice, Usage
from .base import ErrorInfo, ParseOptions, text_or_none
from .openai import ChatCompletionsStream, _int
from .pangu_v2 import PanguV2Dialect


def _camel_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    inp, out = _int(raw.get("promptTokens")), _int(raw.get("completionTokens"))
    total = raw.get("totalTokens")
    return Usage(inp, out, _int(total) if total is not None else inp + out)


class PanguV1Dialect(PanguV2Dialect):
    name = "pangu_v1"
    chat_path = "/v1/{project_id}/deployments/{deployment_id}/chat/completions"
    path_pattern = re.compile(r"/v1/[^/]+/deployments/[^/]+/chat/completions/?$")
    auth_scheme = "x-auth-token"
    delta_key = "message"

    def chat_url(self, base_url: str) -> str:
        raise ConfigurationError(
            "pangu_v1 needs the project and deployment ids in the path: pass endpoint="
            "'https://{host}/v1/{project_id}/deployments/{deployment_id}/chat/completions' instead of base_url"
        )

    def parse_error(self, status: int, body: Any) -> ErrorInfo:
        if isinstance(body, dict) and ("error_msg" in body or "error_code" in body):
            details = body.get("details")
            message = text_or_none(body.get("error_msg"))
            if details:
                message = f"{message} (details: {json.dumps(details, ensure_ascii=False)[:300]})"
            return ErrorInfo(code=text_or_none(body.get("error_code")), message=message)
        return super().parse_error(status, body)

    def error_in_body(self, obj: dict[str, Any]) -> ErrorInfo | None:
        if "error_code" in obj and not obj.get("choices"):
            return self.parse_error(200, obj)
        return super().error_in_body(obj)

    def parse_response(self, body: Any, options: ParseOptions) -> ChatResult:
        if isinstance(body, dict) and body.get("suggestion") == "block":
            meta = {"moderation_blocked": True, "raw_finish_reason": "block"}
            return ChatResult([Choice(0, str(body.get("reply") or ""), finish_reason="content_filter")], None, meta)
        return super().parse_response(body, options)

    def read_stream_object(self, state: ChatCompletionsStream, obj: dict[str, Any]) -> list[ChatChunk]:
        if obj.get("suggestion") == "block":
            state.meta["moderation_blocked"] = True
            state.set_finish(0, "block", "content_filter")
            reply = obj.get("reply")
            return [ChatChunk(0, str(reply))] if reply else []
        return super().read_stream_object(state, obj)

    def on_dataless_event(self, state: ChatCompletionsStream, event: SSEEvent) -> list[ChatChunk]:
        name = event.event or ""
        if name.startswith("{"):
            try:
                trailer = json.loads(name)
            except ValueError:
                return []
            usage = _camel_usage(trailer.get("usage")) if isinstance(trailer, dict) else None
            if usage is not None and state.usage is None:
                state.usage = usage
        return []
