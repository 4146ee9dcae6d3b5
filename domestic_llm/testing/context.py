"""What one emulated answer is rendered from (`RenderContext`), and the emulator's JSON style."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .replies import Reply, usage_of

CREATED = 1745725837


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
