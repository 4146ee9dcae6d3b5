"""Chat templates: rendering a conversation into the prompt of a prompt-style server.

Servers such as TGI's `/generate`, vLLM's demo `/generate` or Triton's generate
extension take one prompt string: the conversation must be rendered with the
model's own chat template, and the answer must end where the template says a
turn ends. A `ChatTemplate` knows both: `render(messages)` gives the prompt
(with the generation prompt that opens the assistant's turn), `stop` the
sequences that end the answer, `markers` every template token that must never
reach the user.

Built in (`BUILTIN`): `chatml` (Qwen family), `baichuan2` (`<reserved_106>` /
`<reserved_107>`), `deepseek_r1` (its generation prompt opens `<think>`, so the
answer starts as reasoning), `llama3`. Any Hugging Face-style Jinja
`chat_template` pasted from a model's `tokenizer_config.json` works too
(`JinjaTemplate`), rendered in Jinja2's sandboxed environment with
`add_generation_prompt=True`; its markers and stops are the special-token-like
literals it contains.

Beginning-of-sequence tokens are never rendered (`bos_token` is empty for Jinja
templates): prompt-style servers add BOS themselves when they tokenize the
prompt, and a second one degrades answers.

Which template a model needs is data (`MODEL_TEMPLATES`, first match wins):
chosen by name or template string (`chat_template=`), or inferred from the model
name; `resolve_template` raises a clear error when it cannot be inferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import ConfigurationError
from .types import Message

#: model-name pattern → built-in template (first match wins; DeepSeek-R1 distills of Qwen
#: use DeepSeek's template, so that row comes before the Qwen one)
MODEL_TEMPLATES: list[tuple[str, str]] = [
    (r"deepseek[-_]?r1|r1[-_]distill", "deepseek_r1"),
    (r"qwen|qwq", "chatml"),
    (r"baichuan", "baichuan2"),
    (r"llama[-_]?3", "llama3"),
]

_SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|<｜[^｜<>\s]{1,40}｜>|<reserved_\d+>|</s>")


def message_text(m: Message) -> str:
    """The text of a message; images cannot go into a text prompt."""
    if isinstance(m.content, str):
        return m.content
    parts = []
    for p in m.content:
        if p.get("type") == "text":
            parts.append(str(p.get("text", "")))
        else:
            raise ConfigurationError(
                f"messages: a {p.get('type')!r} content part cannot be rendered into a text prompt; "
                "prompt-style endpoints take text only"
            )
    return "".join(parts)


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template: how to render a conversation, and which sequences end or mark a turn."""

    name: str
    stop: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    #: the generation prompt opens `<think>`: the answer begins as reasoning
    opens_think: bool = False

    def render(self, messages: list[Message]) -> str:
        """The prompt for `messages`, ending with the generation prompt of the assistant's turn."""
        return _RENDERERS[self.name](messages)


def _chatml(messages: list[Message]) -> str:
    out = [f"<|im_start|>{m.role}\n{message_text(m)}<|im_end|>\n" for m in messages]
    return "".join(out) + "<|im_start|>assistant\n"


def _baichuan2(messages: list[Message]) -> str:
    # system text first (the last system message, trimmed), then <reserved_106> user / <reserved_107> assistant
    systems = [message_text(m) for m in messages if m.role == "system"]
    out = [systems[-1].strip()] if systems else []
    for m in messages:
        if m.role in ("user", "tool"):
            out.append("<reserved_106>" + message_text(m))
        elif m.role == "assistant":
            out.append("<reserved_107>" + message_text(m))
    if not messages or messages[-1].role != "assistant":
        out.append("<reserved_107>")
    return "".join(out)


def _deepseek_r1(messages: list[Message]) -> str:
    systems = [message_text(m) for m in messages if m.role == "system"]
    out = [systems[-1]] if systems else []
    for m in messages:
        if m.role in ("user", "tool"):
            out.append("<｜User｜>" + message_text(m))
        elif m.role == "assistant":
            text = message_text(m)
            if "</think>" in text:  # earlier reasoning is not sent back
                text = text.split("</think>")[-1]
            out.append("<｜Assistant｜>" + text + "<｜end▁of▁sentence｜>")
    out.append("<｜Assistant｜><think>\n")
    return "".join(out)


def _llama3(messages: list[Message]) -> str:
    out = [f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{message_text(m).strip()}<|eot_id|>" for m in messages]
    return "".join(out) + "<|start_header_id|>assistant<|end_header_id|>\n\n"


_RENDERERS: dict[str, Any] = {"chatml": _chatml, "baichuan2": _baichuan2, "deepseek_r1": _deepseek_r1,
                              "llama3": _llama3}

BUILTIN: dict[str, ChatTemplate] = {
    # "\nuser\n": the turn boundary `<|im_end|>\n<|im_start|>user\n` of a server that skips special
    # tokens when decoding (seed 003); what follows it is the model writing the user's next turn
    "chatml": ChatTemplate("chatml", stop=("<|im_end|>", "<|endoftext|>", "<|im_start|>", "\nuser\n", "\nassistant\n"),
                           markers=("<|im_end|>", "<|im_start|>", "<|endoftext|>")),
    "baichuan2": ChatTemplate("baichuan2", stop=("<reserved_106>", "</s>"),
                              markers=("<reserved_106>", "<reserved_107>", "</s>")),
    "deepseek_r1": ChatTemplate("deepseek_r1", stop=("<｜end▁of▁sentence｜>", "<｜User｜>"),
                                markers=("<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
                                         "<｜begin▁of▁sentence｜>"), opens_think=True),
    "llama3": ChatTemplate("llama3", stop=("<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>"),
                           markers=("<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                    "<|begin_of_text|>")),
}


class JinjaTemplate(ChatTemplate):
    """A Hugging Face-style Jinja `chat_template`, rendered in Jinja2's sandbox."""

    source: str

    def __init__(self, source: str, stop: tuple[str, ...] | None = None) -> None:
        found = tuple(dict.fromkeys(_SPECIAL.findall(source)))
        object.__setattr__(self, "name", "jinja")
        object.__setattr__(self, "stop", tuple(stop) if stop is not None else found)
        object.__setattr__(self, "markers", found)
        object.__setattr__(self, "opens_think", bool(re.search(r"add_generation_prompt[\s\S]*<think>", source)))
        object.__setattr__(self, "source", source)
        _compile(source)  # a syntax error shows at configuration time

    def render(self, messages: list[Message]) -> str:
        from jinja2 import TemplateError

        wire = [{"role": m.role, "content": message_text(m)} for m in messages]
        try:
            return _compile(self.source).render(messages=wire, add_generation_prompt=True, bos_token="", eos_token="")
        except TemplateError as exc:  # includes the sandbox's SecurityError
            raise ConfigurationError(f"the chat_template failed to render: {exc}") from None

    def __repr__(self) -> str:
        return f"JinjaTemplate({self.source[:40]!r}…)"


@lru_cache(maxsize=32)
def _compile(source: str) -> Any:
    try:
        from jinja2 import TemplateError
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:  # pragma: no cover - jinja2 is a dependency
        raise ConfigurationError("a Jinja chat_template needs the jinja2 package: pip install jinja2") from None

    def raise_exception(message: str) -> None:
        raise ConfigurationError(f"the chat template refused the conversation: {message}")

    # the options Hugging Face renders chat templates with, so a pasted template behaves as on the model card
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise ConfigurationError(f"chat_template is not a valid Jinja template: {exc}") from None


def infer_template_name(model: str) -> str | None:
    """The built-in template a model name implies (`MODEL_TEMPLATES`), or `None`."""
    low = model.lower()
    for pattern, name in MODEL_TEMPLATES:
        if re.search(pattern, low):
            return name
    return None


def resolve_template(spec: str | ChatTemplate | None, model: str) -> ChatTemplate:
    """The template chosen by `spec` (a built-in name, a Jinja string, a `ChatTemplate`) or inferred from `model`."""
    if isinstance(spec, ChatTemplate):
        return spec
    if spec:
        if spec in BUILTIN:
            return BUILTIN[spec]
        if "{{" in spec or "{%" in spec:
            return _jinja(spec)
        raise ConfigurationError(
            f"chat_template={spec!r} is not known; use one of {', '.join(BUILTIN)}, or paste the "
            "chat_template string from the model's tokenizer_config.json"
        )
    name = infer_template_name(model or "")
    if name is None:
        raise ConfigurationError(
            f"cannot infer the chat template of model={model!r}; pass chat_template= one of "
            f"{', '.join(BUILTIN)}, or the chat_template string from the model's tokenizer_config.json"
        )
    return BUILTIN[name]


@lru_cache(maxsize=32)
def _jinja(source: str) -> JinjaTemplate:
    return JinjaTemplate(source)


__all__ = ["BUILTIN", "MODEL_TEMPLATES", "ChatTemplate", "JinjaTemplate", "infer_template_name", "resolve_template"]
