"""`vllm_generate`: vLLM's demo API server, `POST /generate` (seed 003).

vLLM documents this server as a demo, not for production, but it is what some
boxes run. `base_url` is the server root (plus any mount prefix).

Request: `{"prompt": ..., "stream": bool, <SamplingParams fields>}` — `n`,
`temperature`, `top_p`, `top_k`, `max_tokens`, `stop`, `seed`,
`presence_penalty`, `frequency_penalty`.

Answer: `{"text": [prompt + output, ...]}`, one string per choice (`n > 1`): the
prompt is echoed in front of each output and is stripped. The stream is the same
object repeated with the *cumulative* texts, separated by `\\0` (older builds) or
`\\n` (newer); each becomes the delta since the previous one. There is no
terminator, no finish reason and no usage: a stream is complete when it ended
cleanly (a cut connection fails in the transport), the finish reason is `stop`
only when the answer was cut at a stop sequence here, and usage is `None`.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from ..errors import APIStatusError
from ..sse import SSEEvent
from ..types import ChatChunk, ChatRequest, ChatResult, Choice
from .base import ParseOptions
from .prompt import PromptDialect, PromptStream, finish_answer, strip_echo


class DelimitedJSONDecoder:
    """Bytes → one event per `\\0`- or `\\n`-separated JSON text (vLLM's framing), whatever the cuts."""

    __slots__ = ("_utf8", "_buf")

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""

    def feed(self, raw: bytes) -> list[SSEEvent]:
        buf = self._buf + self._utf8.decode(raw)
        parts = re.split(r"[\0\n]", buf)
        self._buf = parts.pop()
        return [SSEEvent(data=p) for p in parts if p.strip()]

    def flush(self) -> list[SSEEvent]:
        tail = self._buf + self._utf8.decode(b"", final=True)
        self._buf = ""
        return [SSEEvent(data=tail)] if tail.strip() else []


def _texts(body: Any) -> list[str]:
    texts = body.get("text") if isinstance(body, dict) else None
    if isinstance(texts, str):
        return [texts]
    return [t if isinstance(t, str) else "" for t in texts] if isinstance(texts, list) else []


class VLLMGenerateDialect(PromptDialect):
    name = "vllm_generate"
    chat_path = "/generate"
    path_pattern = re.compile(r"/generate/?$")
    path_rank = 6  # `/generate` alone means TGI (and MindIE); this one is chosen by name or by a `prompt` body
    input_field = "prompt"
    auth_scheme = "none"
    param_names = {k: k for k in ("n", "temperature", "top_p", "top_k", "max_tokens", "stop", "seed",
                                  "presence_penalty", "frequency_penalty")}

    def body(self, request: ChatRequest, prompt: str, stream: bool) -> dict[str, Any]:
        return {"prompt": prompt, **self.wire_params(request), "stream": stream}

    def call_url(self, url: str, request: ChatRequest, stream: bool) -> str:
        return self.root(url) + "/generate"

    def event_decoder(self) -> DelimitedJSONDecoder:
        return DelimitedJSONDecoder()

    def curl_fields(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        params = {k: v for k, v in body.items() if k in self.param_names and v is not None}
        extra = {k: v for k, v in body.items() if k not in self.param_names and k not in ("prompt", "stream")}
        return params, extra

    def parse_response(self, body: Any, options: ParseOptions) -> ChatResult:
        if not isinstance(body, dict) or "text" not in body:
            raise APIStatusError("the server's answer has no `text` list (is this vLLM's /generate?)", body=body)
        choices = []
        for i, full in enumerate(_texts(body)):
            text, reasoning, finish = finish_answer(strip_echo(full, options.prompt), None, options)
            choices.append(Choice(i, text, reasoning, finish_reason=finish))
        return ChatResult(choices, None, {})

    def stream_parser(self, options: ParseOptions) -> VLLMGenerateStream:
        return VLLMGenerateStream(self, options)


class VLLMGenerateStream(PromptStream):
    """Cumulative texts (prompt included) → deltas per choice."""

    def __init__(self, dialect: PromptDialect, options: ParseOptions) -> None:
        super().__init__(dialect, options)
        self.seen: dict[int, str] = {}

    def read_object(self, obj: dict[str, Any]) -> list[ChatChunk]:
        out: list[ChatChunk] = []
        for i, full in enumerate(_texts(obj)):
            prev = self.seen.get(i)
            if prev is None:
                prompt = self.options.prompt or ""
                prev = prompt if prompt and full.startswith(prompt) else ""
            if not full.startswith(prev):  # not cumulative after all: never re-send what was shown
                self.meta["non_cumulative_stream"] = True
                prev = ""
            self.seen[i] = full
            out += self.emit(i, full[len(prev):])
        self.complete = True  # no terminator exists: a cleanly ended stream is complete
        return out
