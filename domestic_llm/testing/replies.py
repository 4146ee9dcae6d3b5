"""What the emulated model says: deterministic replies, or a script a test hands over.

The default "model" is simple and predictable so tests can compute the expected
text and usage: it answers by quoting the question, reasons first when the model
name looks like a reasoning model (or thinking is switched on), calls tools when
tools are offered and no tool result is in the conversation yet, and summarises
tool results once they are.

Token counting is character-based: `prompt_tokens` is the number of characters
in all message contents, `completion_tokens` the number of streamed pieces (text,
reasoning and one per tool call), `reasoning_tokens` the reasoning pieces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

PIECE = 3  # characters per streamed piece
REASONING_MODEL_HINTS = ("r1", "reason", "think", "qwq")


@dataclass
class ScriptedToolCall:
    """A tool call the emulated model makes."""

    name: str
    arguments: dict[str, Any] | str
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class Reply:
    """One answer of the emulated model. `finish_reason=None` picks `stop` or `tool_calls`."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    finish_reason: str | None = None

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


def pieces(text: str, size: int = PIECE) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(content_text(m.get("content"))) for m in messages if isinstance(m, dict))


def logprobs_json(body: dict[str, Any], tokens: list[str]) -> dict[str, Any] | None:
    """OpenAI-style logprobs of `tokens` when the request body asked for them (deterministic values)."""
    if not body.get("logprobs"):
        return None
    top = body.get("top_logprobs") or 0

    def entry(token: str, rank: int) -> dict[str, Any]:
        return {"token": token, "logprob": round(-0.05 * (rank + 1) * len(token), 4), "bytes": list(token.encode())}

    return {"content": [{**entry(t, 0), "top_logprobs": [entry(t if r == 0 else f"{t}~{r}", r) for r in range(top)]}
                        for t in tokens]}


def usage_of(reply: Reply, messages: list[dict[str, Any]], n: int = 1) -> dict[str, int]:
    """Usage exactly as the stream reports it: one token per piece."""
    reasoning = len(pieces(reply.reasoning))
    completion = (len(pieces(reply.text)) + reasoning + len(reply.tool_calls)) * n
    prompt = prompt_tokens(messages)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "reasoning_tokens": reasoning * n}


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return content_text(m.get("content"))
    return ""


def _example_args(schema: dict[str, Any], question: str) -> dict[str, Any]:
    """Arguments that satisfy a JSON schema: numbers from the question, strings from its words."""
    numbers = [int(x) for x in re.findall(r"-?\d+", question)]
    words = re.findall(r"[A-Za-z\u4e00-\u9fff]+", question) or ["test"]
    props = schema.get("properties") or {}
    args: dict[str, Any] = {}
    n_num = n_word = 0
    for name, prop in props.items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in ("integer", "number"):
            args[name] = numbers[n_num] if n_num < len(numbers) else n_num + 1
            n_num += 1
        elif kind == "boolean":
            args[name] = True
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = words[n_word % len(words)]
            n_word += 1
    return args


def _rag_answer(prompt: str) -> tuple[str, str] | None:
    """For a retrieval prompt (`…context…Query: q\nAnswer:`), the query and the context line sharing most with it."""
    match = re.search(r"(?:Query|Question|问题)[:：]\s*(.+?)\s*(?:\n\s*(?:Answer|答案)[:：]|$)", prompt, re.S)
    if match is None:
        return None
    query = match.group(1).strip()
    context = prompt[: match.start()]
    lines = [ln.strip() for ln in context.splitlines() if len(ln.strip()) > 4 and not ln.strip().startswith("-")]
    if not lines:
        return None
    wanted = set(query)
    best = max(lines, key=lambda ln: (len(wanted & set(ln)), -lines.index(ln)))
    return query, best


def default_reply(body: dict[str, Any], model: str, thinking: bool | None) -> Reply:
    """The emulated model's deterministic answer to a chat request body."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    question = _last_user_text(messages).strip()
    short = question if len(question) <= 40 else question[:40] + "…"
    reasons = thinking if thinking is not None else any(h in model.lower() for h in REASONING_MODEL_HINTS)
    reasoning = f"用户问的是“{short}”。先想清楚要点，再简洁作答。" if reasons else ""
    tools = [t.get("function", t) for t in body.get("tools") or [] if isinstance(t, dict)]
    tool_results = [content_text(m.get("content")) for m in messages if m.get("role") in ("tool", "function")]
    tool_choice = body.get("tool_choice")
    if tools and not tool_results and tool_choice != "none":
        wanted = [t for t in tools if t.get("name") and t["name"] in question]
        if isinstance(tool_choice, dict):
            name = (tool_choice.get("function") or {}).get("name")
            wanted = [t for t in tools if t.get("name") == name]
        calls = [
            ScriptedToolCall(t["name"], _example_args(t.get("parameters") or {}, question), f"call_{i}")
            for i, t in enumerate(wanted or tools[:1])
        ]
        return Reply(reasoning=reasoning, tool_calls=calls)
    if tool_results:
        return Reply(text="根据工具结果：" + "；".join(tool_results), reasoning=reasoning)
    fmt = body.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return Reply(text=json.dumps(_example_args(schema, question), ensure_ascii=False), reasoning=reasoning)
    rag = _rag_answer(question)
    if rag is not None:
        query, line = rag
        reasoning = f"问题是“{query}”，资料里最相关的一句是“{line}”。" if reasons else ""
        return Reply(text=f"根据资料：{line}", reasoning=reasoning)
    return Reply(text=f"你好！关于“{short}”：这是 domestic-llm 模拟器的回答。", reasoning=reasoning)
