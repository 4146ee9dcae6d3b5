"""`ChatDomestic`: LangChain chat model for privately deployed Chinese LLM endpoints.

A thin adapter: LangChain messages are translated to the core's neutral types,
the core's `ChatClient` does the talking in whichever dialect the endpoint
speaks, and neutral results come back as `AIMessage` / `AIMessageChunk`
following LangChain conventions (reasoning in
`additional_kwargs["reasoning_content"]`, `usage_metadata`, `finish_reason` and
`model_name` in `response_metadata`, usage and metadata once on the last chunk).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import (
    Runnable,
    RunnableLambda,
    RunnableMap,
    RunnablePassthrough,
)
from langchain_core.utils.function_calling import (
    convert_to_json_schema,
    convert_to_openai_tool,
)
from langchain_core.utils.json import parse_json_markdown
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator

from domestic_llm.config import DEFAULTS, env, require_tools
from domestic_llm.errors import ConfigurationError, redact_url
from domestic_llm.settings import EndpointSettings
from domestic_llm.thinking import split_think_text
from domestic_llm.types import ChatRequest
from domestic_llm.types import ChatResult as CoreResult  # LangChain has a ChatResult of its own

from ._convert import PROVIDER, to_generation, to_generation_chunk, to_neutral
from ._errors import langchain_errors

if TYPE_CHECKING:  # only a type hint here; langchain_core.tools costs import time
    from langchain_core.tools import BaseTool


class ChatDomestic(BaseChatModel, EndpointSettings):
    """Chat model for an OpenAI-like or gateway endpoint of a privately deployed LLM.

    Configure with the full URL your vendor document prints (`endpoint=`), or an
    OpenAI-style prefix (`base_url="http://host:1025/v1"`); the dialect is
    inferred from the URL's path unless `dialect=` says otherwise. Every setting
    also reads `DOMESTIC_LLM_*` environment variables (`ENDPOINT`, `BASE_URL`,
    `API_KEY`, `MODEL`, `DIALECT`).

    ```python
    from langchain_domestic_llm import ChatDomestic

    llm = ChatDomestic(model="qwen-72b", base_url="http://127.0.0.1:1025/v1")
    msg = llm.invoke("你好")
    msg.content, msg.usage_metadata, msg.additional_kwargs.get("reasoning_content")
    ```
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=(),
                              defer_build=False)  # EndpointSettings defers its own build, not ours

    # Shared fields come from EndpointSettings; these are redeclared to also accept LangChain's
    # other names. `validation_alias`, not `alias`: type checkers take `alias` as the name of the
    # __init__ parameter, which would make the documented `ChatDomestic(model=...)` a type error.
    model: str = Field(default_factory=lambda: env("MODEL") or "", validation_alias=AliasChoices("model", "model_name"))
    """Model name sent in the request body (`DOMESTIC_LLM_MODEL`); also accepted as `model_name=`."""
    max_tokens: int | None = Field(default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens"))
    stop: list[str] | str | None = Field(default=None, validation_alias=AliasChoices("stop", "stop_sequences"))
    timeout: float | None = Field(default=DEFAULTS.timeout, validation_alias=AliasChoices("timeout", "request_timeout"))
    """Seconds allowed for a whole non-streamed answer, and for each read of a stream."""
    n: int = 1
    streaming: bool = False
    """Use streaming under `invoke` too (callbacks then receive tokens)."""

    @model_validator(mode="after")
    def _check_n(self) -> ChatDomestic:
        if self.n < 1:
            raise ConfigurationError(f"n={self.n} must be >= 1")
        return self

    # ---- LangChain plumbing ----------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "domestic-llm"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_domestic_llm", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        # key-like default headers (apikey, X-Api-Key, ...) become secret references too
        secrets = {"api_key": "DOMESTIC_LLM_API_KEY"}
        for name, value in (self.default_headers or {}).items():
            if isinstance(value, SecretStr):
                secrets[f"default_headers.{name}"] = "DOMESTIC_LLM_HEADER_" + name.upper().replace("-", "_")
        return secrets

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dialect": self.client.dialect.name,
            "url": redact_url(self.client.url),
            **self.sampling(),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop or kwargs.get("stop") or self.stop
        if ls_stop:
            params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
        return params

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> ChatRequest:
        if stop is not None:
            kwargs = {**kwargs, "stop": stop}
        return self.chat_request(to_neutral(messages), kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            from langchain_core.language_models.chat_models import generate_from_stream

            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        request = self._request(messages, stop, kwargs)
        with langchain_errors():
            return self._chat_result(self.client.invoke(request), request.model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            from langchain_core.language_models.chat_models import agenerate_from_stream

            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        request = self._request(messages, stop, kwargs)
        with langchain_errors():
            return self._chat_result(await self.client.ainvoke(request), request.model)

    def _chat_result(self, result: CoreResult, model: str) -> ChatResult:
        dialect = self.client.dialect.name
        generations = [to_generation(choice, result, model, dialect) for choice in result.choices]
        llm_output: dict[str, Any] = {"model_name": result.metadata.get("model") or model}
        if result.usage is not None:
            u = result.usage
            llm_output["token_usage"] = {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                                         "total_tokens": u.total_tokens}
        return ChatResult(generations=generations, llm_output=llm_output)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        dialect = self.client.dialect.name
        ids = _StreamId()
        with langchain_errors():
            for chunk in self.client.stream(request):
                if chunk.choice:  # LangChain streams one choice; n > 1 is served by invoke
                    continue
                gen = to_generation_chunk(chunk, request.model, dialect, ids.of(chunk))
                if run_manager:
                    run_manager.on_llm_new_token(gen.text, chunk=gen)
                yield gen

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        dialect = self.client.dialect.name
        ids = _StreamId()
        with langchain_errors():
            async for chunk in self.client.astream(request):
                if chunk.choice:
                    continue
                gen = to_generation_chunk(chunk, request.model, dialect, ids.of(chunk))
                if run_manager:
                    await run_manager.on_llm_new_token(gen.text, chunk=gen)
                yield gen

    # ---- token counting (no download: server /tokenize, your tokenizer, or an estimate) -------

    def get_num_tokens(self, text: str) -> int:
        """Tokens of `text`: the server's `/tokenize`, else `tokenizer`, else an estimate (`domestic_llm.tokens`)."""
        with langchain_errors():
            return cast(int, self.token_counter.count_text(text))

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None
    ) -> int:
        """Tokens of `messages` as the model sees them (through the chat template where the server applies it).

        Works with `trim_messages(..., token_counter=llm)`, with or without a reachable server.
        """
        formatted = [convert_to_openai_tool(t) for t in tools] if tools else None
        with langchain_errors():
            return cast(int, self.token_counter.count_messages(to_neutral(messages), formatted))

    def get_token_ids(self, text: str) -> list[int]:
        """Token ids from the server's `/tokenize` or `tokenizer` (an estimate has no ids: that raises)."""
        if self.custom_get_token_ids is not None:
            return self.custom_get_token_ids(text)
        with langchain_errors():
            ids = self.token_counter.token_ids(text)
        if ids is None:
            raise ConfigurationError(
                "token ids need the server's /tokenize or tokenizer= (a callable or a local tokenizer.json); "
                "get_num_tokens() works without them (estimate)"
            )
        return cast(list[int], ids)

    # ---- tools and structured output ------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, pydantic models, functions or OpenAI tool dicts).

        `tool_choice`: `"auto"`, `"none"`, `"required"` / `"any"` / `True` (some tool
        must be called), or a tool's name (that tool must be called).
        """
        require_tools(self.client.dialect)
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            names = [t["function"]["name"] for t in formatted]
            if tool_choice is True or tool_choice == "any":
                tool_choice = "required"
            elif isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
                if tool_choice not in names:
                    raise ConfigurationError(
                        f"tool_choice={tool_choice!r} names no bound tool; use 'auto', 'none', 'required' "
                        f"or one of {names}"
                    )
            kwargs["tool_choice"] = tool_choice
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Answers shaped by `schema` (pydantic model, TypedDict or JSON schema).

        `method`: `function_calling` (default where the dialect carries tools), `json_mode`
        (`response_format={"type": "json_object"}`), or `json_schema` (`response_format`
        with the schema). JSON answers are parsed after removing any `<think>` block.
        """
        if kwargs:
            raise ConfigurationError(f"with_structured_output: unexpected arguments {sorted(kwargs)}")
        if method is None:
            method = "function_calling" if self.client.dialect.supports_tools else "json_mode"
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        trace = {"ls_structured_output_format": {"kwargs": {"method": method, "strict": strict}, "schema": schema}}
        if method == "function_calling":
            if schema is None:
                raise ConfigurationError("schema is required for method='function_calling'")
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=tool_name, strict=strict, **trace)
            parser: Runnable[Any, Any] = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
            )
        elif method in ("json_mode", "json_schema"):
            if method == "json_schema":
                if schema is None:
                    raise ConfigurationError("schema is required for method='json_schema'")
                json_schema = convert_to_json_schema(schema)
                fmt: dict[str, Any] = {"name": json_schema.get("title", "output"), "schema": json_schema}
                if strict is not None:
                    fmt["strict"] = strict
                response_format: dict[str, Any] = {"type": "json_schema", "json_schema": fmt}
            else:
                response_format = {"type": "json_object"}
            llm = self.bind(response_format=response_format, **trace)
            parser = RunnableLambda[AIMessage, Any](_json_parser(cast("type[BaseModel]", schema) if is_pydantic else None))
        else:
            raise ConfigurationError(
                f"method={method!r} is not supported; use 'function_calling', 'json_mode' or 'json_schema'"
            )
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks([fallback], exception_key="parsing_error")


class _StreamId:
    """One message id for every chunk of a stream, fixed when the first chunk is yielded.

    The server's response id when its first chunk carries one; otherwise `None` throughout,
    and langchain-core gives every chunk the run's id. LangGraph's `stream_mode="messages"`
    groups chunks by this id, so it must never change mid-stream.
    """

    __slots__ = ("value", "fixed")

    def __init__(self) -> None:
        self.value: str | None = None
        self.fixed = False

    def of(self, chunk: Any) -> str | None:
        if not self.fixed:
            self.fixed = True
            self.value = None if chunk.id is None else str(chunk.id)
        return self.value


def _json_parser(model: type[BaseModel] | None) -> Callable[[AIMessage], Any]:
    """Parse the JSON answer, ignoring a `<think>` block and markdown fences around it."""

    def parse(message: AIMessage) -> Any:
        text = message.content if isinstance(message.content, str) else message.text
        _, answer = split_think_text(text, "split")
        try:
            data = parse_json_markdown(answer)
        except (ValueError, json.JSONDecodeError) as exc:
            raise OutputParserException(f"the answer is not valid JSON: {answer[:200]!r}", llm_output=text) from exc
        if model is None:
            return data
        try:
            return model.model_validate(data)
        except Exception as exc:
            raise OutputParserException(f"the JSON does not match {model.__name__}: {exc}", llm_output=text) from exc

    return parse
