"""Emulated prompt-style servers (seed 003): TGI, vLLM's demo `/generate`, Triton's generate extension.

Each serves its routes with the framing of the real server and validates what it
receives, so that a wrong prompt rendering fails a test:

* the prompt is parsed back into a conversation: a ChatML, Baichuan 2,
  DeepSeek-R1 or Llama 3 rendering must be exact (every turn closed, ending in
  the generation prompt of the assistant's turn), otherwise the server answers
  422 naming the problem; a prompt without any template marker is a plain
  completion prompt (one user turn);
* unknown or out-of-range parameters are refused the way the real server does.

TGI (`/generate`, `/generate_stream`): `data:{...}` token events with `special`
flags; the template's end-of-turn token comes last as a special token; the final
event and the non-streamed answer carry `generated_text` (special tokens skipped)
and `details` (`finish_reason` `eos_token` / `stop_sequence` / `length`,
`generated_tokens`); a stop sequence is included in the text, as TGI does.

vLLM demo (`/generate`, told from TGI by its `prompt` body, as on seed 003's box; also mounted
under `/vllm/generate`): `{"text": [prompt + output]}`;
the stream repeats that object with cumulative texts, ASCII-escaped JSON separated
by `\\n` (or `\\0`, `EmulatorState.vllm_separator`); stop strings are excluded.

Triton (`/v2/models/{model}/generate[_stream]`, `GET /v2`, `POST /v2/repository/index`):
`{"model_name", "model_version", "text_output"}`; the prompt is echoed in front of
the output (`triton_echo`); the stream is SSE with deltas, or the cumulative text
with the echoed prompt (`triton_stream="cumulative"`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .dialects import EmulatedDialect, RenderContext, dumps
from .replies import pieces

CHATML_END = "<|im_end|>"
#: the end-of-turn token each template family's model emits, as a special token
EOS = {"chatml": "<|im_end|>", "baichuan2": "</s>", "deepseek_r1": "<｜end▁of▁sentence｜>", "llama3": "<|eot_id|>",
       "raw": "<|endoftext|>"}
SPECIAL = re.compile(r"(<\|[^|<>\s]{1,40}\|>|<｜[^｜<>\s]{1,40}｜>|<reserved_\d+>|</s>)")
ROLES = ("system", "user", "assistant", "tool")


class PromptError(ValueError):
    """The prompt is not a well-formed rendering of a conversation."""


def _chatml(prompt: str) -> list[dict[str, str]]:
    turn = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>\n", re.S)
    pos, messages = 0, []
    while True:
        m = turn.match(prompt, pos)
        if m is None:
            break
        if m.group(1) not in ROLES or "<|im_start|>" in m.group(2):
            raise PromptError(f"ChatML turn at offset {pos} is malformed (role {m.group(1)!r})")
        messages.append({"role": m.group(1), "content": m.group(2)})
        pos = m.end()
    if prompt[pos:] != "<|im_start|>assistant\n":
        raise PromptError(f"ChatML prompt must end with '<|im_start|>assistant\\n' after its turns; "
                          f"found {prompt[pos:pos + 40]!r} at offset {pos}")
    return messages


def _baichuan2(prompt: str) -> list[dict[str, str]]:
    if not prompt.endswith("<reserved_107>"):
        raise PromptError("Baichuan 2 prompt must end with <reserved_107>")
    parts = re.split(r"(<reserved_10[67]>)", prompt[: -len("<reserved_107>")])
    messages = [{"role": "system", "content": parts[0]}] if parts[0] else []
    for tag, text in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if tag == "<reserved_106>" else "assistant", "content": text})
    if not messages or messages[-1]["role"] != "user":
        raise PromptError("Baichuan 2 prompt must have a user turn before the final <reserved_107>")
    return messages


def _deepseek(prompt: str) -> list[dict[str, str]]:
    tail = "<｜Assistant｜><think>\n"
    if not prompt.endswith(tail):
        raise PromptError("DeepSeek-R1 prompt must end with '<｜Assistant｜><think>\\n'")
    parts = re.split(r"(<｜User｜>|<｜Assistant｜>)", prompt[: -len(tail)])
    messages = [{"role": "system", "content": parts[0]}] if parts[0] else []
    for tag, text in zip(parts[1::2], parts[2::2]):
        if tag == "<｜Assistant｜>":
            if not text.endswith("<｜end▁of▁sentence｜>"):
                raise PromptError("DeepSeek-R1 assistant turn must end with <｜end▁of▁sentence｜>")
            messages.append({"role": "assistant", "content": text[: -len("<｜end▁of▁sentence｜>")]})
        else:
            messages.append({"role": "user", "content": text})
    return messages


def _llama3(prompt: str) -> list[dict[str, str]]:
    turn = re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\n\n(.*?)<\|eot_id\|>", re.S)
    pos, messages = 0, []
    while (m := turn.match(prompt, pos)) is not None:
        messages.append({"role": m.group(1), "content": m.group(2)})
        pos = m.end()
    if prompt[pos:] != "<|start_header_id|>assistant<|end_header_id|>\n\n":
        raise PromptError(f"Llama 3 prompt must end with the assistant header; found {prompt[pos:pos + 40]!r}")
    return messages


def parse_prompt(prompt: str) -> tuple[str, list[dict[str, str]]]:
    """(template family, conversation) of a prompt; a prompt without markers is one user turn."""
    for marker, family, parse in (("<|im_start|>", "chatml", _chatml), ("<reserved_10", "baichuan2", _baichuan2),
                                  ("<｜User｜>", "deepseek_r1", _deepseek), ("<|start_header_id|>", "llama3", _llama3)):
        if marker in prompt:
            return family, parse(prompt)
    return "raw", [{"role": "user", "content": prompt}]


def tokens_of(text: str, eos: str | None) -> list[tuple[str, bool]]:
    """The emulated model's tokens: markers are special tokens, other text in 3-character pieces."""
    out: list[tuple[str, bool]] = []
    for part in SPECIAL.split(text):
        if not part:
            continue
        if SPECIAL.fullmatch(part):
            out.append((part, True))
        else:
            out += [(p, False) for p in pieces(part)]
    if eos is not None:
        out.append((eos, True))
    return out


class EmulatedPromptServer(EmulatedDialect):
    """Shared part: the prompt is parsed into a conversation, which the default model answers."""

    auth = "none"
    prompt_field = "prompt"
    validation_status = 422
    allowed: frozenset[str] = frozenset()

    def thinking_of(self, body: dict[str, Any]) -> bool | None:
        return None

    def unknown_model(self, body: dict[str, Any], path_params: dict[str, str],
                      served: list[str] | None) -> tuple[int, dict[str, Any]] | None:
        return None

    def validate(self, body: dict[str, Any], path_params: dict[str, str]) -> tuple[str, str] | None:
        prompt = body.get(self.prompt_field)
        if not isinstance(prompt, str) or not prompt:
            return "validation", f"`{self.prompt_field}` must be a non-empty string"
        unknown = sorted(set(body) - self.allowed - {self.prompt_field})
        if unknown:
            return "validation", f"unknown fields: {unknown}"
        try:
            parse_prompt(prompt)
        except PromptError as exc:
            return "validation", f"malformed prompt: {exc}"
        return None

    def chat_view(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body[self.prompt_field]
        family, messages = parse_prompt(prompt)
        return {**body, "model": body.get("model") or "emulated", "messages": messages, "_prompt": prompt,
                "_family": family}

    @staticmethod
    def answer(ctx: RenderContext, index: int, stop: list[str], limit: int | None,
               keep_stop: bool) -> tuple[list[tuple[str, bool]], str]:
        """Tokens of choice `index` after stop sequences and the token limit, and the finish reason."""
        reply = ctx.choice_reply(index)
        tokens = tokens_of(reply.text, EOS[ctx.body["_family"]] if reply.finish == "stop" else None)
        finish = "eos_token" if reply.finish == "stop" else "length"
        text = ""
        for n, (tok, special) in enumerate(tokens):
            if not special:
                text += tok
                hit = [s for s in stop if s in text]
                if hit:
                    cut = text.index(hit[0]) + (len(hit[0]) if keep_stop else 0)
                    return [(p, False) for p in pieces(text[:cut])], "stop_sequence"
            if limit is not None and n + 1 >= limit and n + 1 < len(tokens):
                return tokens[: n + 1], "length"
        return tokens, finish


class EmulatedTGI(EmulatedPromptServer):
    name = "tgi"
    route = "/generate"
    auth = "bearer"
    prompt_field = "inputs"
    allowed = frozenset({"parameters", "stream"})
    PARAMETERS = {"best_of", "decoder_input_details", "details", "do_sample", "frequency_penalty", "grammar",
                  "max_new_tokens", "repetition_penalty", "return_full_text", "seed", "stop", "temperature", "top_k",
                  "top_n_tokens", "top_p", "truncate", "typical_p", "watermark", "adapter_id"}

    @property
    def routes(self) -> tuple[str, ...]:
        return ("/generate", "/generate_stream")

    def is_stream(self, body: dict[str, Any], path: str) -> bool:
        return path.endswith("/generate_stream") or body.get("stream") is True

    def serving(self, body: Any) -> EmulatedDialect:
        # seed 003's box answers TGI's and vLLM's demo requests on the same /generate
        if isinstance(body, dict) and "prompt" in body and "inputs" not in body:
            return _VLLM
        return self

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"error": message, "error_type": code}

    def validate(self, body: dict[str, Any], path_params: dict[str, str]) -> tuple[str, str] | None:
        problem = super().validate(body, path_params)
        if problem:
            return problem
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            return "validation", "`parameters` must be an object"
        unknown = sorted(set(params) - self.PARAMETERS)
        if unknown:
            return "validation", f"unknown parameters: {unknown}"
        t = params.get("temperature")
        if t is not None and not t > 0:
            return "validation", "`temperature` must be strictly positive"
        p = params.get("top_p")
        if p is not None and not 0 < p < 1:
            return "validation", "`top_p` must be > 0.0 and < 1.0"
        stop = params.get("stop") or []
        if len(stop) > 4:
            return "validation", f"`stop` supports up to 4 stop sequences. Given: {len(stop)}"
        n = params.get("max_new_tokens")
        if n is not None and (not isinstance(n, int) or n < 1):
            return "validation", "`max_new_tokens` must be strictly positive"
        return None

    def chat_view(self, body: dict[str, Any]) -> dict[str, Any]:
        view = super().chat_view(body)
        grammar = (body.get("parameters") or {}).get("grammar")
        if isinstance(grammar, dict) and grammar.get("type") == "json":  # TGI's constrained JSON output
            view["response_format"] = {"type": "json_schema", "json_schema": {"schema": grammar.get("value") or {}}}
        return view

    def _generation(self, ctx: RenderContext) -> tuple[list[tuple[str, bool]], str]:
        params = ctx.body.get("parameters") or {}
        return self.answer(ctx, 0, params.get("stop") or [], params.get("max_new_tokens"), keep_stop=True)

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        tokens, finish = self._generation(ctx)
        details = {"finish_reason": finish, "generated_tokens": len(tokens), "seed": None, "prefill": [],
                   "tokens": [{"id": 1000 + i, "text": t, "logprob": -0.1, "special": sp}
                              for i, (t, sp) in enumerate(tokens)]}
        return {"generated_text": "".join(t for t, sp in tokens if not sp), "details": details}

    def render_stream(self, ctx: RenderContext) -> list[str]:
        tokens, finish = self._generation(ctx)
        events = []
        for i, (text, special) in enumerate(tokens):
            last = i == len(tokens) - 1
            event: dict[str, Any] = {"index": i + 1, "token": {"id": 1000 + i, "text": text, "logprob": -0.1,
                                                               "special": special},
                                     "generated_text": None, "details": None, "top_tokens": None}
            if last:
                event["generated_text"] = "".join(t for t, sp in tokens if not sp)
                event["details"] = {"finish_reason": finish, "generated_tokens": len(tokens), "seed": None}
            events.append(f"data:{dumps(event)}\n\n")
        return events


class EmulatedVLLMGenerate(EmulatedPromptServer):
    name = "vllm_generate"
    route = "/vllm/generate"  # also served on TGI's /generate (told apart by the body)
    stream_media_type = "application/json"
    validation_status = 400
    allowed = frozenset({"stream", "n", "temperature", "top_p", "top_k", "max_tokens", "stop", "seed",
                         "presence_penalty", "frequency_penalty", "best_of", "repetition_penalty", "min_tokens",
                         "ignore_eos", "skip_special_tokens"})

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"detail": message}

    def is_stream(self, body: dict[str, Any], path: str) -> bool:
        return body.get("stream") is True

    def _outputs(self, ctx: RenderContext) -> list[list[str]]:
        """Per choice, the visible text pieces (special tokens skipped, stop excluded, max_tokens applied)."""
        stop = ctx.body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        out = []
        for i in range(ctx.n):
            tokens, _ = self.answer(ctx, i, stop, ctx.body.get("max_tokens"), keep_stop=False)
            out.append([t for t, sp in tokens if not sp])
        return out

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        prompt = ctx.body["_prompt"]
        return {"text": [prompt + "".join(p) for p in self._outputs(ctx)]}

    def render_stream(self, ctx: RenderContext) -> list[str]:
        prompt = ctx.body["_prompt"]
        outputs = self._outputs(ctx)
        sep = ctx.options.get("vllm_separator", "\n")
        steps = max((len(p) for p in outputs), default=0)
        # json.dumps with its defaults (ASCII escapes), as the real server writes it
        return [json.dumps({"text": [prompt + "".join(p[: k + 1]) for p in outputs]}) + sep for k in range(steps)]


class EmulatedTriton(EmulatedPromptServer):
    name = "triton"
    route = "/v2/models/{model}/generate"
    prompt_field = "text_input"
    validation_status = 400
    allowed = frozenset({"stream", "max_tokens", "temperature", "top_p", "top_k", "random_seed", "stop_words",
                         "bad_words", "presence_penalty", "frequency_penalty", "repetition_penalty", "end_id",
                         "pad_id", "beam_width", "length_penalty", "min_length", "return_log_probs",
                         "exclude_input_in_output", "parameters"})

    @property
    def routes(self) -> tuple[str, ...]:
        return ("/v2/models/{model}/generate", "/v2/models/{model}/generate_stream")

    def example_path(self, **params: str) -> str:
        return self.route.format(model=params.get("model", "qwen1.5-14b"))

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"error": message}

    def is_stream(self, body: dict[str, Any], path: str) -> bool:
        return path.endswith("/generate_stream")

    def unknown_model(self, body: dict[str, Any], path_params: dict[str, str],
                      served: list[str] | None) -> tuple[int, dict[str, Any]] | None:
        model = path_params.get("model")
        if served is None or model in served:
            return None
        return 400, {"error": f"Request for unknown model: '{model}' is not found"}

    def _pieces(self, ctx: RenderContext) -> list[str]:
        stop = ctx.body.get("stop_words") or []
        tokens, _ = self.answer(ctx, 0, [stop] if isinstance(stop, str) else stop, ctx.body.get("max_tokens"),
                                keep_stop=False)
        return [t for t, sp in tokens if not sp]

    def render_json(self, ctx: RenderContext) -> dict[str, Any]:
        echo = ctx.body["_prompt"] if ctx.options.get("triton_echo", True) else ""
        return {"model_name": ctx.path_params.get("model", "ensemble"), "model_version": "1",
                "sequence_end": False, "sequence_id": 0, "sequence_start": False,
                "text_output": echo + "".join(self._pieces(ctx))}

    def render_stream(self, ctx: RenderContext) -> list[str]:
        cumulative = ctx.options.get("triton_stream") == "cumulative"
        text = ctx.body["_prompt"] if cumulative else ""
        events = []
        for piece in self._pieces(ctx):
            text = text + piece if cumulative else piece
            events.append("data: " + dumps({"model_name": ctx.path_params.get("model", "ensemble"),
                                            "model_version": "1", "text_output": text}) + "\n\n")
        return events


_VLLM = EmulatedVLLMGenerate()


def prompt_server_routes(state: Any) -> list[Any]:
    """The GET/POST side routes of the prompt servers: TGI `/info`, Triton `/v2` and its repository index."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def served() -> list[str]:
        return state.served_models or ["qwen1.5-14b"]

    async def tgi_info(request: Any) -> Any:
        return JSONResponse({"model_id": served()[0], "model_dtype": "torch.float16", "max_input_tokens": 4095,
                             "max_total_tokens": 4096, "max_stop_sequences": 4, "version": "2.4.0"})

    async def triton_server(request: Any) -> Any:
        return JSONResponse({"name": "triton", "version": "2.48.0",
                             "extensions": ["classification", "sequence", "model_repository", "schedule_policy",
                                            "model_configuration", "system_shared_memory", "cuda_shared_memory",
                                            "binary_tensor_data", "parameters", "statistics", "trace", "logging",
                                            "generate"]})

    async def triton_index(request: Any) -> Any:
        return JSONResponse([{"name": m, "version": "1", "state": "READY"} for m in served()])

    return [Route("/info", tgi_info, methods=["GET"]), Route("/v2", triton_server, methods=["GET"]),
            Route("/v2/repository/index", triton_index, methods=["POST"])]
