"""`ias`: the `lmp-cloud-ias-server` gateway (seed 000).

Differences from `openai`, all from the seed's curl and stream:
* the token goes into `Authorization` as is, without `Bearer`;
* events are framed `event:data` then `data:{...}` with no space (the SSE decoder
  takes both);
* chunks carry `appId` and `globalTraceId` (surfaced in metadata) and
  `delta.isSensitiveWord` (any `true` sets `metadata["sensitive_word"]`);
* the last chunk has `"choices": null` and carries the usage;
* gateway fields such as `modelVersion` pass through as extra body fields.
"""

from __future__ import annotations

import re
from typing import Any

from .openai import ChatCompletionsDialect


class IASDialect(ChatCompletionsDialect):
    name = "ias"
    chat_path = "/lmp-cloud-ias-server/api/llm/chat/completions"
    path_pattern = re.compile(r"/lmp-cloud-ias-server/api/llm/chat/completions/?$")
    auth_scheme = "raw"
    thinking_style = "none"

    def response_metadata(self, obj: dict[str, Any], meta: dict[str, Any]) -> None:
        super().response_metadata(obj, meta)
        for key, name in (("appId", "app_id"), ("globalTraceId", "global_trace_id")):
            value = obj.get(key)
            if value is not None and name not in meta:
                meta[name] = value

    def choice_extras(self, choice: dict[str, Any], message: dict[str, Any], meta: dict[str, Any]) -> None:
        super().choice_extras(choice, message, meta)
        if message.get("isSensitiveWord"):
            meta["sensitive_word"] = True
