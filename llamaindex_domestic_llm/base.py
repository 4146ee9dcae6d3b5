"""`DomesticLLM`: LlamaIndex LLM for privately deployed Chinese LLM endpoints.

Why `FunctionCallingLLM` rather than the `CustomLLM` of the design card:
`CustomLLM` is built around `complete` and serves chat by flattening messages
into one prompt, which would throw away what these chat endpoints understand
(roles, system prompts, tool calls and tool results). `FunctionCallingLLM`
keeps chat native — `chat`/`stream_chat` and their async forms talk to the
endpoint's chat route; `complete` sends its prompt as one user message, or as
written on a prompt-style endpoint (no chat template) — and is what
`FunctionAgent`, `structured_predict` and `as_structured_llm` look for to use
real tool calling instead of prompt-and-parse.

The adapter only translates: LlamaIndex messages go to the core's neutral
types, the core's `ChatClient` talks the endpoint's dialect, and answers come
back with reasoning as a `ThinkingBlock` (first block), tool calls as
`ToolCallBlock`s, and usage / finish reason / ids in `additional_kwargs` and
`raw`. While streaming, each reasoning delta is in
`additional_kwargs["thinking_delta"]`, the key `AgentStream` reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.generic_utils import (
    astream_chat_response_to_completion_response,
    chat_response_to_completion_response,
    stream_chat_response_to_completion_response,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from domestic_llm.config import require_tools
from domestic_llm.models import context_window_of, models_url
from domestic_llm.settings import EndpointSettings, api_key_from_env
from domestic_llm.types import ChatRequest, Message

from ._convert import chat_response, to_neutral
from ._stream import StreamAccumulator

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

log = logging.getLogger("domestic_llm")


class DomesticLLM(FunctionCallingLLM, EndpointSettings):
    """LlamaIndex LLM for an OpenAI-like or gateway endpoint of a privately deployed model.

    ```python
    from llama_index.core import Settings
    from llamaindex_domestic_llm import DomesticLLM

    Settings.llm = DomesticLLM(model="qwen-72b", base_url="http://10.0.0.5:1025/v1")
    ```

    Configuration is the same as `ChatDomestic`'s: `endpoint` (full URL; dialect
    inferred from its path) or `base_url`, `api_key`, `model`, `dialect`, sampling
    parameters, timeouts, headers, `verify`, `token_provider`, and `from_curl`;
    each falls back to its `DOMESTIC_LLM_*` environment variable.
    """

    model_config = {"defer_build": False}  # EndpointSettings defers its own build, not ours
    # Shared fields come from EndpointSettings. The key is redeclared only to keep it out
    # of LlamaIndex's to_dict/to_json (LangChain needs it present, as a secret reference).
    api_key: SecretStr | None = Field(default_factory=api_key_from_env, exclude=True)
    """Key or token (`DOMESTIC_LLM_API_KEY`); never serialised."""
    context_window: int = Field(
        default=8192, gt=0,
        description="Context length; unless set, read once from the server's /v1/models max_model_len, else 8192 "
                    "(the smallest common for Qwen / DeepSeek-R1 distill deployments).",
    )
    num_output: int | None = Field(default=None, description="Tokens reserved for the answer; default max_tokens.")

    @classmethod
    def class_name(cls) -> str:
        return "DomesticLLM"

    def __repr__(self) -> str:
        return f"DomesticLLM(model={self.model!r}, dialect={self.client.dialect.name!r})"

    #: the context window when not configured: the server's answer or the default, once asked
    _found_context: int | None = PrivateAttr(default=None)

    def _context_window(self) -> int:
        """The configured value, else the server's `max_model_len` (asked once, lazily), else the default."""
        if "context_window" in self.model_fields_set:
            return self.context_window
        # read on every call (llama-index's to_payload reads metadata): straight from pydantic's
        # private store, as EndpointSettings.client does (`self._found_context` runs pydantic's
        # __getattr__, microseconds a read)
        found: int | None = self.__pydantic_private__["_found_context"]  # type: ignore[index]
        if found is None:
            found = self._found_context = self._served_context() or self.context_window
        return found

    def _served_context(self) -> int | None:
        if models_url(self.client.url) is None:
            return None
        try:
            return context_window_of(self.client, self.model)
        except Exception as exc:  # noqa: BLE001 - an optional hint: the default stands
            log.debug("domestic_llm: /v1/models gave no context length (%s); using %d",
                      type(exc).__name__, self.context_window)
            return None

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self._context_window(),
            num_output=self.num_output or self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=self.client.dialect.supports_tools,
            model_name=self.model,
        )

    def as_tokenizer(self) -> Any:
        """This model's tokenizer for `Settings.tokenizer` (server `/tokenize`, `tokenizer=`, or an estimate).

        ```python
        Settings.tokenizer = llm.as_tokenizer()   # LlamaIndex then counts with the deployed model's tokenizer
        ```
        """
        return self.token_counter.as_tokenizer()

    # ---- requests ------------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatRequest:
        return self.chat_request(to_neutral(messages), kwargs)

    # complete/stream_complete call the client directly, not the instrumented chat methods:
    # a completion is counted (TokenCountingHandler), traced and rate-limited once.

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return chat_response(self.client.invoke(self._request(messages, kwargs)), self.client.dialect.name)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        result = await self.client.ainvoke(self._request(messages, kwargs))
        return chat_response(result, self.client.dialect.name)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream(self._request(messages, kwargs))

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return self._astream(self._request(messages, kwargs))

    def _stream(self, request: ChatRequest) -> ChatResponseGen:
        def gen() -> Generator[ChatResponse, None, None]:
            acc = StreamAccumulator(self.client.dialect.name)
            for chunk in self.client.stream(request):
                response = acc.add(chunk)
                if response is not None:
                    yield response

        return gen()

    def _astream(self, request: ChatRequest) -> ChatResponseAsyncGen:
        async def gen() -> AsyncGenerator[ChatResponse, None]:
            acc = StreamAccumulator(self.client.dialect.name)
            async for chunk in self.client.astream(request):
                response = acc.add(chunk)
                if response is not None:
                    yield response

        return gen()

    # `complete` sends the prompt as written: prompt-style dialects without a chat template,
    # chat dialects as one user message (the request carries both; the dialect picks)

    def _completion_request(self, prompt: str, kwargs: dict[str, Any]) -> ChatRequest:
        request = self.chat_request([Message("user", prompt)], kwargs)
        request.prompt = prompt
        return request

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        result = self.client.invoke(self._completion_request(prompt, kwargs))
        return chat_response_to_completion_response(chat_response(result, self.client.dialect.name))

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        result = await self.client.ainvoke(self._completion_request(prompt, kwargs))
        return chat_response_to_completion_response(chat_response(result, self.client.dialect.name))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return stream_chat_response_to_completion_response(self._stream(self._completion_request(prompt, kwargs)))

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        return astream_chat_response_to_completion_response(self._astream(self._completion_request(prompt, kwargs)))

    # ---- tools -------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if tools:
            require_tools(self.client.dialect)
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        specs = [t.metadata.to_openai_tool(skip_length_check=True) for t in tools]
        if tool_choice is None:
            tool_choice = "required" if tool_required else "auto"
        out: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            out["tools"] = specs
            out["tool_choice"] = tool_choice
        return out

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
            if len(calls) > 1:  # keep the first call only, as the caller asked for one
                first = calls[0]
                response.message.blocks = [b for b in response.message.blocks
                                           if not isinstance(b, ToolCallBlock) or b is first]
                if response.message.additional_kwargs.get("tool_calls"):
                    response.message.additional_kwargs["tool_calls"] = response.message.additional_kwargs["tool_calls"][:1]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not calls and error_on_no_tool_call:
            raise ValueError(f"expected at least one tool call, got none: {response.message.content!r}")
        selections = []
        for call in calls:
            raw = call.tool_kwargs
            arguments = _parse_arguments(raw) if isinstance(raw, str) else raw
            selections.append(ToolSelection(tool_id=call.tool_call_id or "", tool_name=call.tool_name,
                                            tool_kwargs=arguments if isinstance(arguments, dict) else {}))
        return selections


def _parse_arguments(text: str) -> Any:
    """Tool arguments; while streaming they may be a JSON prefix, parsed as far as it goes."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return parse_partial_json(text)
    except ValueError:
        return {}  # too little has arrived yet

