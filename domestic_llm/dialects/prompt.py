"""`PromptDialect`: the shared part of prompt-style servers (`tgi`, `vllm_generate`, `triton`).

These servers take one prompt string instead of messages. The dialect renders
the conversation with the model's chat template (`templates`; chosen by
`chat_template=` or inferred from the model name), sends the template's stop
sequences with the user's own, and parses with a guard that ends the answer at
the first stop and never lets a template marker through (`textguard`). A request
carrying `prompt` (LlamaIndex `complete`) is sent as written, without a template.

The `base_url` of a prompt-style server is its root (plus any mount prefix);
each dialect appends its own routes per call (`call_url`).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, ClassVar

from ..errors import ConfigurationError
from ..textguard import TextGuard
from ..thinking import split_think_text
from ..templates import ChatTemplate, infer_template_name, resolve_template
from ..types import ChatRequest, Usage
from .base import Dialect, HttpRequest, ParseOptions
from .jsonstream import JSONStreamParser


def as_list(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop if isinstance(s, str) and s]


def strip_echo(text: str, prompt: str | None) -> str:
    """The answer without the prompt, for servers that echo it in front of the output."""
    if prompt and text.startswith(prompt):
        return text[len(prompt):]
    return text


class PromptDialect(Dialect):
    """Base of the prompt-style dialects: template rendering, stops, parameter mapping."""

    supports_tools = False
    accepts_stream_options = False
    think_tags = "split"  # DeepSeek-R1-style models write <think> inline on these servers
    # the client renders the chat template, so no body field can switch thinking (see families.py)
    thinking_style = "none"
    #: neutral sampling param name → this server's name (params not listed are refused, not dropped)
    param_names: ClassVar[dict[str, str]] = {}
    #: how many stop sequences the server accepts (TGI's default limit is 4)
    max_stop: ClassVar[int | None] = None

    def __init__(self, chat_template: str | ChatTemplate | None = None) -> None:
        if chat_template is not None and not isinstance(chat_template, ChatTemplate):
            resolve_template(chat_template, "")  # an unknown name or a Jinja syntax error fails here
        self.chat_template = chat_template

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chat_template={self.chat_template!r})"

    def with_template(self, chat_template: str | ChatTemplate | None) -> PromptDialect:
        """A copy of this dialect rendering with `chat_template`."""
        clone = copy.copy(self)
        PromptDialect.__init__(clone, chat_template)
        return clone

    def template(self, model: str) -> ChatTemplate:
        return resolve_template(self.chat_template, model)

    def check_model(self, model: str) -> None:
        """Fail at configuration time when no template can be chosen for `model`."""
        if model or self.chat_template is not None:
            self.template(model)

    # ---- request --------------------------------------------------------------------

    def validate(self, request: ChatRequest) -> None:
        if request.prompt is None:
            self.template(request.model)
        if request.response_format is not None and not self.supports_response_format:
            raise ConfigurationError(
                f"response_format: the {self.name!r} dialect has no JSON mode; ask for JSON in the prompt instead"
            )
        for key, value in request.params.items():
            if value is None or key in self.param_names or (key == "n" and value == 1):
                continue
            raise ConfigurationError(
                f"{key}={value!r} is not accepted by the {self.name!r} dialect; it takes "
                f"{', '.join(sorted(self.param_names))} (pass server-specific fields in model_kwargs)"
            )

    supports_response_format: ClassVar[bool] = False

    def prompt(self, request: ChatRequest) -> str:
        """The prompt sent: `request.prompt` as written, else the conversation through the chat template."""
        if request.prompt is not None:
            return request.prompt
        return self.template(request.model).render(request.messages)

    def stops(self, request: ChatRequest) -> list[str]:
        """Stop sequences to send: the user's first, then the template's, within the server's limit."""
        stops = as_list(request.params.get("stop"))
        if request.prompt is None:
            stops += [s for s in self.template(request.model).stop if s not in stops]
        if self.max_stop is not None and len(as_list(request.params.get("stop"))) > self.max_stop:
            raise ConfigurationError(
                f"stop: the {self.name!r} dialect accepts at most {self.max_stop} stop sequences, got "
                f"{len(as_list(request.params.get('stop')))}"
            )
        return stops[: self.max_stop] if self.max_stop is not None else stops

    def wire_params(self, request: ChatRequest) -> dict[str, Any]:
        """Sampling params under this server's names (stop sequences included)."""
        out: dict[str, Any] = {}
        for key, value in request.params.items():
            if value is None or key == "stop" or (key == "n" and value == 1):
                continue
            out[self.param_names[key]] = value
        stops = self.stops(request)
        if stops and "stop" in self.param_names:
            out[self.param_names["stop"]] = stops
        return out

    @staticmethod
    def merge_extra(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(body.get(key), dict):
                body[key] = {**body[key], **value}
            else:
                body[key] = value
        return body

    def call_options(self, request: ChatRequest, options: ParseOptions) -> ParseOptions:
        stop = tuple(as_list(request.params.get("stop")))
        markers: tuple[str, ...] = ()
        opens_think = False
        template: ChatTemplate | None = None
        if request.prompt is None or self.chat_template is not None:
            template = self.template(request.model)
        elif infer_template_name(request.model):  # a raw prompt: still keep the family's markers out
            template = self.template(request.model)
        if template is not None:
            stop += tuple(s for s in template.stop if s not in stop)
            markers = template.markers
            opens_think = template.opens_think and request.prompt is None
        return replace(options, stop=stop, markers=markers, prompt=self.prompt(request),
                       think_starts_open=options.think_starts_open or opens_think)

    def build_request(
        self, request: ChatRequest, *, url: str, stream: bool, headers: dict[str, str], options: ParseOptions
    ) -> HttpRequest:
        body = self.body(request, self.prompt(request), stream)
        return HttpRequest("POST", self.call_url(url, request, stream), headers,
                           self.merge_extra(body, request.extra_body))

    def body(self, request: ChatRequest, prompt: str, stream: bool) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    # ---- routes -----------------------------------------------------------------------

    def root(self, url: str) -> str:
        """The server root (with mount prefix) of a configured chat URL."""
        assert self.path_pattern is not None
        return self.path_pattern.sub("", url)


def finish_answer(text: str, finish: str | None, options: ParseOptions) -> tuple[str, str, str | None]:
    """A complete answer through the guard and the <think> splitter: (text, reasoning, finish reason).

    An answer cut at a stop sequence the server did not know finished with `stop`.
    """
    guard = TextGuard(options.stop, options.markers, options.trim_role_leaks)
    text = guard.feed(text) + guard.flush()
    if guard.stopped:
        finish = "stop"
    reasoning = ""
    if options.think_tags != "keep" and text:
        reasoning, text = split_think_text(text, options.think_tags, options.think_starts_open)
    return text, reasoning, finish


class PromptStream(JSONStreamParser):
    """Shared state of prompt-style streams: text through the guard, usage and finish from the server."""

    def __init__(self, dialect: PromptDialect, options: ParseOptions) -> None:
        super().__init__(options)
        self.dialect = dialect

    def emit(self, index: int, text: str) -> list[Any]:
        from ..types import ChatChunk

        text, reasoning = self.text_delta(index, text, "")
        return [ChatChunk(index, text, reasoning)] if text or reasoning else []


def token_usage(prompt_tokens: int | None, generated: int | None) -> Usage | None:
    """Usage from what the server reports; `None` when it reports nothing."""
    if generated is None and prompt_tokens is None:
        return None
    inp, out = prompt_tokens or 0, generated or 0
    return Usage(inp, out, inp + out)

