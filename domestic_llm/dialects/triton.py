"""`triton`: NVIDIA Triton's generate extension, `/v2/models/{model}/generate[_stream]` (seed 003).

`base_url` is the server root; the model name goes into the path per call
(`endpoint=` with a concrete `/v2/models/ensemble/generate` keeps that model
in the path). Request: `{"text_input": prompt, "max_tokens", "temperature",
"top_p", "top_k", "random_seed", "stop_words", "presence_penalty",
"frequency_penalty", "stream"}` (TensorRT-LLM ensemble names; other backends'
fields go in `model_kwargs`).

Answer: `{"model_name", "model_version", "text_output"}`; TensorRT-LLM echoes
the prompt in front of the output unless told otherwise — it is stripped. The
stream (SSE) comes in two styles, both handled: deltas (TensorRT-LLM streaming)
or the full text so far (with or without the prompt). `TritonDialect(
stream_output="delta" | "cumulative")` fixes the style; the default `"auto"`
takes a stream as cumulative when it starts with the prompt, or when its second
text extends the first. There is no terminator, no finish reason and no usage.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

from ..errors import APIStatusError, error_class_for
from ..templates import ChatTemplate
from ..types import ChatChunk, ChatRequest, ChatResult, Choice
from .base import HttpRequest, ParseOptions
from .prompt import PromptDialect, PromptStream, finish_answer, strip_echo

StreamOutput = Literal["auto", "delta", "cumulative"]


def _text_output(obj: dict[str, Any]) -> str:
    out = obj.get("text_output")
    if isinstance(out, list):
        out = out[0] if out else ""
    return out if isinstance(out, str) else ""


def _raise_in_body(obj: dict[str, Any]) -> None:
    if "error" in obj and "text_output" not in obj:
        message = str(obj["error"])
        raise error_class_for(400, message)(message, server_message=message)


class TritonDialect(PromptDialect):
    name = "triton"
    chat_path = "/v2/models/{model}/generate"
    path_pattern = re.compile(r"/v2/models/[^/]+(?:/versions/[^/]+)?/generate(?:_stream)?/?$")
    input_field = "text_input"
    auth_scheme = "none"
    param_names = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                   "seed": "random_seed", "stop": "stop_words", "presence_penalty": "presence_penalty",
                   "frequency_penalty": "frequency_penalty"}

    def __init__(self, chat_template: str | ChatTemplate | None = None, stream_output: StreamOutput = "auto") -> None:
        super().__init__(chat_template)
        if stream_output not in ("auto", "delta", "cumulative"):
            from ..errors import ConfigurationError

            raise ConfigurationError(f"stream_output={stream_output!r} must be 'auto', 'delta' or 'cumulative'")
        self.stream_output = stream_output

    def root(self, url: str) -> str:
        return re.sub(r"/v2/models/.*$", "", url)

    def call_url(self, url: str, request: ChatRequest, stream: bool) -> str:
        base = re.sub(r"/generate(?:_stream)?/?$", "", url).replace("{model}", quote(request.model, safe=""))
        return base + ("/generate_stream" if stream else "/generate")

    def body(self, request: ChatRequest, prompt: str, stream: bool) -> dict[str, Any]:
        return {"text_input": prompt, **self.wire_params(request), "stream": stream}

    def curl_fields(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        neutral = {v: k for k, v in self.param_names.items()}
        params = {neutral[k]: v for k, v in body.items() if k in neutral and v not in (None, "")}
        extra = {k: v for k, v in body.items() if k not in neutral and k not in ("text_input", "stream")}
        return params, extra

    def parse_response(self, body: Any, options: ParseOptions) -> ChatResult:
        if not isinstance(body, dict):
            raise APIStatusError("the server's answer is not a JSON object", body=body)
        _raise_in_body(body)
        text, reasoning, finish = finish_answer(strip_echo(_text_output(body), options.prompt), None, options)
        meta = {k: body[k] for k in ("model_name", "model_version") if k in body}
        return ChatResult([Choice(0, text, reasoning, finish_reason=finish)], None, meta)

    def stream_parser(self, options: ParseOptions) -> TritonStream:
        return TritonStream(self, options)

    def models_requests(self, url: str) -> list[HttpRequest]:
        return [HttpRequest("POST", self.root(url) + "/v2/repository/index",
                            {"Accept": "application/json"}, {"ready": True})]

    def parse_models(self, body: Any) -> list[str]:
        names = []
        for item in body if isinstance(body, list) else []:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item.get("state", "READY") == "READY":
                names.append(item["name"])
        return names


class TritonStream(PromptStream):
    """Delta or cumulative `text_output` events → deltas."""

    dialect: TritonDialect

    def __init__(self, dialect: TritonDialect, options: ParseOptions) -> None:
        super().__init__(dialect, options)
        self.mode: str = dialect.stream_output
        self.shown = ""  # the server's text so far, as this parser understood it
        self.events = 0

    def read_object(self, obj: dict[str, Any]) -> list[ChatChunk]:
        _raise_in_body(obj)
        for key in ("model_name", "model_version"):
            if key in obj and key not in self.meta:
                self.meta[key] = obj[key]
        self.complete = True  # no terminator exists: a cleanly ended stream is complete
        text = _text_output(obj)
        if not text:
            return []
        self.events += 1
        prompt = self.options.prompt or ""
        if self.events == 1:
            if prompt and text.startswith(prompt):
                if self.mode == "delta":  # an echoed prompt in front of the first delta
                    self.shown = text = text[len(prompt):]
                    return self.emit(0, text)
                self.mode = "cumulative" if self.mode == "auto" else self.mode
                self.shown = prompt
            else:
                self.shown = ""
        if self.mode == "auto" and self.events == 2:
            self.mode = "cumulative" if text.startswith(self.shown) and len(text) > len(self.shown) else "delta"
        if self.mode == "cumulative":
            if not text.startswith(self.shown):
                self.meta["non_cumulative_stream"] = True
                return []
            delta, self.shown = text[len(self.shown):], text
        else:
            delta = text
            self.shown += text
        return self.emit(0, delta)
