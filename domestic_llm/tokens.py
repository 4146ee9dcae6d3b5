"""Token counting that never downloads anything.

In order of preference (`token_counting="auto"`):

1. the server's own tokenizer: `POST /tokenize` at the server's root (vLLM,
   SGLang, llama.cpp). Messages are sent as `messages`, which vLLM runs through
   the model's chat template, so the count includes the template's tokens;
   servers that tokenize only text (SGLang, llama.cpp) get the contents joined,
   plus the per-message overhead below.
2. a tokenizer you pass: a callable `text -> list | int`, or the path of a
   local `tokenizer.json` (read with the `tokenizers` package, the
   `domestic-llm[tokenizers]` extra; nothing is fetched).
3. `estimate_tokens`: an estimate, documented as one. One token per Chinese /
   Japanese / Korean character, digit and punctuation mark, one per five
   Latin letters of a word. Qwen, DeepSeek, GLM and Baichuan tokenizers use
   about 0.6–0.75 tokens per Chinese character, so for Chinese text this
   overestimates by roughly a third: a budget computed with it is safe.

`token_counting="server"` uses only the server (and raises if it cannot);
`"local"` never asks it. In `"auto"` a server without `/tokenize` (404, 405,
501, connection refused) is asked once, then remembered as absent.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from contextlib import closing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .answers import read_body_sync
from .dialects.base import HttpRequest
from .errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    DomesticLLMError,
    MalformedResponseError,
    redact_url,
)
from .types import ChatRequest, Message

if TYPE_CHECKING:
    from .client import ChatClient

log = logging.getLogger("domestic_llm")

TokenCounting = Literal["auto", "server", "local"]
TOKEN_COUNTING_MODES = ("auto", "server", "local")
#: a callable `text -> token ids (or an int count)`, or the path of a local tokenizer.json
Tokenizer = Callable[[str], Any] | str | os.PathLike[str]

#: ChatML-style template cost where no server applies the real template:
#: `<|im_start|>`, role, newline, `<|im_end|>`, newline per message ...
MESSAGE_OVERHEAD = 5
#: ... and `<|im_start|>assistant\n` that opens the answer
REPLY_OVERHEAD = 3

_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_PIECES = re.compile(rf"[{_CJK}]|[A-Za-z]+|\d|[^\sA-Za-z\d]")
# the server says "no such route" (or cannot be reached): fall back instead of failing
_ABSENT_STATUSES = (404, 405, 501)


def estimate_tokens(text: str) -> int:
    """An estimate of `text`'s token count, high rather than low for Chinese (see the module doc)."""
    n = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        n += math.ceil(len(piece) / 5) if piece[0].isascii() and piece[0].isalpha() else 1
    return n


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _message_texts(messages: Sequence[Message]) -> list[str]:
    """The text of each message that a template would render (content and tool calls)."""
    texts = []
    for m in messages:
        text = _text_of(m.content)
        for call in m.tool_calls:
            text += call.name + call.arguments
        texts.append(text)
    return texts


def _load_tokenizer(spec: Tokenizer) -> Callable[[str], Any]:
    """The user's tokenizer as a callable `text -> ids (or a count)`."""
    if callable(spec):
        return spec
    path = os.fspath(spec)
    if not os.path.isfile(path):
        raise ConfigurationError(f"tokenizer={path!r}: no such file; pass the path of a tokenizer.json or a callable")
    try:
        from tokenizers import Tokenizer as HFTokenizer
    except ImportError:
        raise ConfigurationError(
            f"tokenizer={path!r} needs the `tokenizers` package: pip install 'domestic-llm[tokenizers]'"
        ) from None
    try:
        tok = HFTokenizer.from_file(path)
    except Exception as exc:  # the tokenizers package raises plain Exception on a bad file
        raise ConfigurationError(f"tokenizer={path!r} is not a readable tokenizer.json: {exc}") from None
    return lambda text: tok.encode(text, add_special_tokens=False).ids


def tokenize_url_of(chat_url: str) -> str:
    """`/tokenize` at the root of the chat URL's server (where vLLM, SGLang and llama.cpp serve it)."""
    parts = urlsplit(chat_url)
    return urlunsplit((parts.scheme, parts.netloc, "/tokenize", "", ""))


class TokenCounter:
    """Counts tokens of text and of chat messages for one chat client (see the module doc)."""

    def __init__(
        self,
        client: ChatClient,
        *,
        mode: TokenCounting = "auto",
        tokenizer: Tokenizer | None = None,
        tokenize_url: str | None = None,
    ) -> None:
        if mode not in TOKEN_COUNTING_MODES:
            raise ConfigurationError(f"token_counting={mode!r} must be one of {', '.join(TOKEN_COUNTING_MODES)}")
        if tokenize_url is not None and not tokenize_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"tokenize_url={tokenize_url!r} must start with http:// or https://")
        self.client = client
        self.mode = mode
        self.tokenize_url = tokenize_url or tokenize_url_of(client.url)
        self.tokenizer = tokenizer
        self._local = _load_tokenizer(tokenizer) if tokenizer is not None else None
        self.local_is_estimate = tokenizer is None
        self._server: bool | None = None if mode != "local" else False  # None: not asked yet
        self._templates: bool | None = None  # whether /tokenize applies the chat template to `messages`
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # copies carry the configuration; the loaded tokenizer and the lock are rebuilt
        return {"client": self.client, "mode": self.mode, "tokenizer": self.tokenizer, "tokenize_url": self.tokenize_url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["client"], mode=state["mode"], tokenizer=state["tokenizer"],  # type: ignore[misc]
                      tokenize_url=state["tokenize_url"])

    def _local_count(self, text: str) -> int:
        if self._local is None:
            return estimate_tokens(text)
        out = self._local(text)
        return out if isinstance(out, int) else len(out)

    # ---- the server -----------------------------------------------------------------------

    def _ask(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self.client
        token = client._token_sync(False)
        headers = {"Accept": "application/json", **client.dialect.auth_headers(token, client.auth_scheme)}
        resp = client.transport.send(HttpRequest("POST", self.tokenize_url, headers, body))
        with closing(resp):
            content = read_body_sync(resp, None, self.tokenize_url)
        if resp.status_code >= 400:
            exc = client._status_error(resp, content, token)
            exc.url = redact_url(self.tokenize_url)  # not the chat route's
            raise exc
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise MalformedResponseError(f"/tokenize answered {content[:200]!r}", url=self.tokenize_url)
        return answer

    @staticmethod
    def _count_of(answer: dict[str, Any]) -> int | None:
        count = answer.get("count")
        if isinstance(count, int) and not isinstance(count, bool):
            return count
        tokens = answer.get("tokens")  # llama.cpp answers only the ids
        return len(tokens) if isinstance(tokens, list) else None

    def _note_absent(self, exc: DomesticLLMError) -> None:
        """Fall back to the local count; remember it only if the server has no /tokenize at all."""
        absent = isinstance(exc, (APIConnectionError, APITimeoutError, MalformedResponseError)) or (
            exc.status in _ABSENT_STATUSES
        )
        if not absent:  # a passing failure (5xx, 429, 401): this call only
            log.warning("domestic_llm: /tokenize at %s failed (%s); counting this text locally",
                        self.tokenize_url, exc)
            return
        with self._lock:
            if self._server is not False:
                log.warning("domestic_llm: no usable /tokenize at %s (%s); counting tokens %s",
                            self.tokenize_url, type(exc).__name__,
                            "with an estimate" if self.local_is_estimate else "with the given tokenizer")
            self._server = False

    def _server_count(self, body: dict[str, Any]) -> int | None:
        """The server's count, or `None` (in "auto" mode) when the server has no usable /tokenize."""
        if self._server is False:
            return None
        try:
            count = self._count_of(self._ask(body))
            if count is None:
                raise MalformedResponseError(f"/tokenize answered without `count` or `tokens` ({self.tokenize_url})")
        except DomesticLLMError as exc:
            if self.mode == "server":
                raise
            self._note_absent(exc)
            return None
        self._server = True
        return count

    def _template_count(self, messages: list[Message], tools: Sequence[dict[str, Any]] | None) -> int | None:
        """vLLM's count of the messages through the model's chat template; `None` if the server cannot."""
        from .dialects.openai import OpenAIDialect

        wire = OpenAIDialect().messages_to_wire(ChatRequest(self.client.model, messages))
        body: dict[str, Any] = {"model": self.client.model, "messages": wire, "add_generation_prompt": True}
        if tools:
            body["tools"] = list(tools)
        try:
            answer = self._ask(body)
        except DomesticLLMError as exc:
            if exc.status in (400, 422):  # reachable, but tokenizes text only (SGLang refuses `messages`)
                self._templates = False
                return None
            if self.mode == "server":
                raise
            self._note_absent(exc)
            return None
        # llama.cpp ignores `messages` and answers no tokens at all: not a count
        count = self._count_of(answer) or None
        self._templates = count is not None
        return count

    # ---- public ---------------------------------------------------------------------------

    def count_text(self, text: str) -> int:
        """Tokens of `text` (no special tokens added)."""
        if not isinstance(text, str):
            raise ConfigurationError(f"text must be a string, got {type(text).__name__}")
        # `prompt` for vLLM / SGLang, `content` for llama.cpp: each ignores the other's field
        count = self._server_count({"model": self.client.model, "prompt": text, "content": text,
                                    "add_special_tokens": False, "add_special": False})
        return self._local_count(text) if count is None else count

    def token_ids(self, text: str) -> list[int] | None:
        """Token ids of `text` from the server or the given tokenizer; `None` when only an estimate exists."""
        if self._server is not False:
            try:
                answer = self._ask({"model": self.client.model, "prompt": text, "content": text,
                                    "add_special_tokens": False, "add_special": False})
                tokens = answer.get("tokens")
                if isinstance(tokens, list):
                    self._server = True
                    return [t for t in tokens if isinstance(t, int)]
            except DomesticLLMError as exc:
                if self.mode == "server":
                    raise
                self._note_absent(exc)
        if self._local is not None:
            out = self._local(text)
            if isinstance(out, list):
                return out
        return None

    def count_messages(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None = None) -> int:
        """Tokens of a conversation as the model sees it, with the chat template and the reply's opening."""
        messages = list(messages)
        if self._server is not False and self._templates is not False:
            count = self._template_count(messages, tools)
            if count is not None:
                self._server = True
                return count
        # no template at hand: the contents plus a ChatML-sized overhead per message
        texts = _message_texts(messages)
        if tools:
            texts.append(json.dumps(list(tools), ensure_ascii=False))
        return self.count_text("\n".join(texts)) + MESSAGE_OVERHEAD * len(messages) + REPLY_OVERHEAD

    def as_tokenizer(self) -> Callable[[str], list[int]]:
        """A `text -> list` callable for LlamaIndex's `Settings.tokenizer`, which counts with `len()`.

        The list holds the real ids when the server or your tokenizer gives them;
        with only an estimate it holds that many zeros (LlamaIndex reads only its length).
        """

        def tokenize(text: str) -> list[int]:
            ids = self.token_ids(text)
            return ids if ids is not None else [0] * self._local_count(text)

        return tokenize
