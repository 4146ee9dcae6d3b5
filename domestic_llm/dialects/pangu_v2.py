"""`pangu_v2`: Huawei Cloud Pangu's OpenAI-format interface, `/api/v2/chat/completions` (seed 002).

Bearer auth; `reasoning_content` in `message` and `delta` (Pangu-NLP-Reasoner);
usage repeated cumulatively on every stream chunk (the last value is the total,
reported once); finish reasons include `insufficient_system_resource` (kept as
is, also flagged `metadata["overloaded"]`) and vLLM's `stop_reason`; errors
`{"error": {"code", "type", "message"}, "id"}`, which the base reader handles.
"""

from __future__ import annotations

import re
from typing import Any

from .openai import ChatCompletionsDialect

OVERLOAD_FINISH = "insufficient_system_resource"


class PanguV2Dialect(ChatCompletionsDialect):
    name = "pangu_v2"
    chat_path = "/api/v2/chat/completions"
    path_pattern = re.compile(r"/api/v2/chat/completions/?$")
    thinking_style = "none"

    def choice_extras(self, choice: dict[str, Any], message: dict[str, Any], meta: dict[str, Any]) -> None:
        super().choice_extras(choice, message, meta)
        if choice.get("finish_reason") == OVERLOAD_FINISH:
            meta["overloaded"] = True
