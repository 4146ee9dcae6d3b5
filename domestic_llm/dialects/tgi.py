"""`tgi`: Hugging Face text-generation-inference's `/generate` and `/generate_stream` (seed 003).

Also MindIE's TGI-compatible route. `base_url` is the server root; the route is
chosen per call (`/generate`, or `/generate_stream` when streaming).

Request: `{"inputs": prompt, "parameters": {...}}` with `max_new_tokens`,
`temperature`, `top_k`, `top_p`, `stop`, `seed`, `frequency_penalty`; other TGI
parameters (`repetition_penalty`, `do_sample`, `typical_p`, `truncate`, …) given
as extra fields go into `parameters`. TGI rejects `temperature=0` and
`top_p>=1`: greedy is sent as `do_sample=false` without a temperature, and
`top_p=1` (no nucleus cut) is not sent. At most 4 stop sequences (TGI's
default `max_stop_sequences`); the user's come first, then the template's.
`details: true` is always asked for, to learn the finish reason and token count.

Answer: `generated_text` (non-streamed) or one event per token
`{"token": {"text", "special"}, "generated_text", "details"}`; special tokens are
never shown as text (one that is a stop sequence ends the answer);
`details.finish_reason` `eos_token` / `stop_sequence` become `stop`, `length`
stays. Usage: `details.generated_tokens` as output tokens; TGI reports input
tokens only as `prefill` (with `decoder_input_details`), otherwise they are
0 and `metadata["input_tokens_unknown"]` is set.
"""

from __future__ import annotations

import re
from typing import Any

from ..error_bodies import ErrorShape
from ..errors import APIStatusError, error_class_for
from ..types import ChatChunk, ChatRequest, ChatResult, Choice, Usage
from .base import ErrorInfo, HttpRequest, ParseOptions
from .prompt import PromptDialect, PromptStream, finish_answer

FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}
#: TGI `parameters` a user may pass as extra fields (they are moved into `parameters`)
TGI_PARAMETERS = {"best_of", "decoder_input_details", "details", "do_sample", "frequency_penalty", "grammar",
                  "max_new_tokens", "repetition_penalty", "return_full_text", "seed", "stop", "temperature", "top_k",
                  "top_n_tokens", "top_p", "truncate", "typical_p", "watermark", "adapter_id"}
_NEUTRAL = {"max_new_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
            "stop": "stop", "seed": "seed", "frequency_penalty": "frequency_penalty"}


def _raise(info: ErrorInfo) -> None:
    raise error_class_for(400 if info.code == "validation" else 500, info.message)(
        info.message or "the server reported an error", code=info.code, server_message=info.message)


def _usage(details: Any, meta: dict[str, Any]) -> Usage | None:
    if not isinstance(details, dict) or not isinstance(details.get("generated_tokens"), int):
        return None
    prefill = details.get("prefill")
    inp = len(prefill) if isinstance(prefill, list) and prefill else 0
    if not inp:
        meta["input_tokens_unknown"] = True
    out = details["generated_tokens"]
    return Usage(inp, out, inp + out)


class TGIDialect(PromptDialect):
    name = "tgi"
    chat_path = "/generate"
    path_pattern = re.compile(r"/generate(?:_stream)?/?$")
    path_rank = 5  # Triton's routes also end in /generate
    input_field = "inputs"
    max_stop = 4
    # `{"error": "…", "error_type": "validation"}` in a 200 stream or body (checked before the common shapes)
    error_shapes = (ErrorShape("tgi", "error", ok=(None, "", {}), code_keys=("error_type",), message_keys=("error",),
                               code_status=(("validation", 400), ("overloaded", 503))),)
    param_names = {"max_tokens": "max_new_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                   "stop": "stop", "seed": "seed", "frequency_penalty": "frequency_penalty"}
    supports_response_format = True  # as TGI's JSON grammar

    def call_url(self, url: str, request: ChatRequest, stream: bool) -> str:
        return self.root(url) + ("/generate_stream" if stream else "/generate")

    def body(self, request: ChatRequest, prompt: str, stream: bool) -> dict[str, Any]:
        params = self.wire_params(request)
        if params.get("temperature") == 0:
            del params["temperature"]
            params["do_sample"] = False
        if isinstance(params.get("top_p"), (int, float)) and params["top_p"] >= 1:
            del params["top_p"]
        params["details"] = True
        fmt = request.response_format
        if fmt is not None:
            schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
            params["grammar"] = {"type": "json", "value": schema or {"type": "object"}}
        return {"inputs": prompt, "parameters": params}

    def build_request(self, request: ChatRequest, **kw: Any) -> HttpRequest:
        http = super().build_request(request, **kw)
        body = http.json
        assert body is not None
        for key in [k for k in body if k in TGI_PARAMETERS]:  # parameters given as extra fields
            body["parameters"][key] = body.pop(key)
        return http

    def curl_fields(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        params: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        raw = body.get("parameters")
        for key, value in (raw if isinstance(raw, dict) else {}).items():
            if value is None:
                continue
            if key in _NEUTRAL:
                params[_NEUTRAL[key]] = value
            else:
                rest[key] = value
        extra = {k: v for k, v in body.items() if k not in ("inputs", "parameters", "stream")}
        if rest:
            extra["parameters"] = rest
        return params, extra

    def parse_error(self, status: int, body: Any) -> ErrorInfo:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return ErrorInfo(code=body.get("error_type") if isinstance(body.get("error_type"), str) else None,
                             message=body["error"])
        return super().parse_error(status, body)

    def parse_response(self, body: Any, options: ParseOptions) -> ChatResult:
        if isinstance(body, list) and body:  # the `/` route answers a list
            body = body[0]
        if not isinstance(body, dict):
            raise APIStatusError("the server's answer is not a JSON object", body=body)
        if "error" in body:
            _raise(self.parse_error(200, body))
        text = body.get("generated_text")
        text = text if isinstance(text, str) else ""
        details = body.get("details")
        raw = details.get("finish_reason") if isinstance(details, dict) else None
        meta: dict[str, Any] = {}
        usage = _usage(details, meta)
        text, reasoning, finish = finish_answer(text, FINISH.get(raw, raw) if isinstance(raw, str) else None, options)
        if raw is not None and raw != finish:
            meta["raw_finish_reason"] = raw
        return ChatResult([Choice(0, text, reasoning, finish_reason=finish)], usage, meta)

    def stream_parser(self, options: ParseOptions) -> TGIStream:
        return TGIStream(self, options)

    def models_requests(self, url: str) -> list[HttpRequest]:
        root = self.root(url)
        accept = {"Accept": "application/json"}
        return [HttpRequest("GET", root + "/info", accept), HttpRequest("GET", root + "/v1/models", accept)]

    def parse_models(self, body: Any) -> list[str]:
        if isinstance(body, dict) and isinstance(body.get("model_id"), str):
            return [body["model_id"]]
        return super().parse_models(body)


class TGIStream(PromptStream):
    """Token events; the last one carries `generated_text` and `details`."""

    def read_object(self, obj: dict[str, Any]) -> list[ChatChunk]:
        if "error" in obj:
            _raise(self.dialect.parse_error(200, obj))
        out: list[ChatChunk] = []
        token = obj.get("token")
        if isinstance(token, dict) and isinstance(token.get("text"), str):
            text = token["text"]
            if not token.get("special"):
                out = self.emit(0, text)
            elif text in self.options.stop:
                self.emit(0, text)  # a special stop token ends the answer; its text is never shown
        details = obj.get("details")
        if isinstance(details, dict):
            usage = _usage(details, self.meta)
            if usage is not None:
                self.usage = usage
            raw = details.get("finish_reason")
            self.set_finish(0, raw, FINISH.get(raw, raw) if isinstance(raw, str) else None)
        elif obj.get("generated_text") is not None:
            self.complete = True
        return out
