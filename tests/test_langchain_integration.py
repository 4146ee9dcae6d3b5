"""langchain-tests' standard integration suite, against two servers.

* `TestChatDomesticLlamaCpp`: a real server we did not write (llama.cpp + SmolLM2-135M,
  see `domestic_llm.testing.llamacpp`). Every flag says what this combination can do.
  A test that fails only because a 135M-parameter model cannot follow an instruction,
  or because of a documented limit of this server, is marked `xfail` with that reason,
  one by one (`strict=False` where the tiny model sometimes succeeds).
* `TestChatDomesticEmulatorThink`: the emulator's reasoning model (`deepseek-r1…`), which
  streams `reasoning_content` and exact usage; it proves the adapter's side of each test.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests

from domestic_llm.testing.llamacpp import MODEL_ALIAS
from langchain_domestic_llm import ChatDomestic

from .helpers import aggregate

TINY = "SmolLM2-135M is too small to follow this instruction reliably"
NO_STREAM_USAGE = "llama_cpp.server sends no usage in streams, even with stream_options.include_usage"
NAMED_TOOL_CHOICE_ONLY = "llama_cpp.server ignores tools unless tool_choice names a function"
EMULATED_MODEL = ("the emulator's deterministic model does not read instructions: it fills tool arguments and "
                  "JSON answers from the schema and the question's words, not from what the prompt asks for")
V1_REASONING_AND_TOOL = (
    "langchain-core's v1 stream conversion gives the reasoning block and the first tool-call chunk the same "
    "`index` (0), so merging the chunks folds the tool call into the reasoning block; only when one streamed "
    "answer has both reasoning and a tool call (follow-up: adapter / langchain-core)"
)


def _xfail(reason: str, strict: bool = False) -> Any:
    return pytest.mark.xfail(reason=reason, strict=strict)


@pytest.mark.timeout(600)
class TestChatDomesticLlamaCpp(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _server(self, llamacpp_server: Any) -> None:
        self.base_url = llamacpp_server.base_url

    @property
    def chat_model_class(self) -> type[ChatDomestic]:
        return ChatDomestic

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # 64 tokens: every answer the suite needs fits, and JSON grammars cannot run on for long
        return {"model": MODEL_ALIAS, "base_url": self.base_url, "timeout": 240, "max_retries": 0, "max_tokens": 64}

    @property
    def has_tool_calling(self) -> bool:
        return True  # with a forced tool_choice: llama_cpp.server ignores tools otherwise

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True  # response_format json_object: grammar-constrained by llama.cpp

    @property
    def returns_usage_metadata(self) -> bool:
        return True  # on invoke; not in streams (see test_usage_metadata_streaming)

    @property
    def supports_model_override(self) -> bool:
        return False  # one model per server process; it answers to its alias only

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    # ---- what this server or this tiny model cannot do, test by test ----

    @_xfail(NO_STREAM_USAGE, strict=True)
    def test_usage_metadata_streaming(self, model: Any) -> None:  # type: ignore[override]
        super().test_usage_metadata_streaming(model)

    @_xfail(NAMED_TOOL_CHOICE_ONLY + "; tool_choice='any' with two tools cannot be narrowed to one name", strict=True)
    def test_tool_choice(self, model: Any) -> None:  # type: ignore[override]
        super().test_tool_choice(model)

    @_xfail(NAMED_TOOL_CHOICE_ONLY + "; the suite binds the tool without tool_choice", strict=True)
    @pytest.mark.parametrize("model", [{}, {"output_version": "v1"}], indirect=True)
    def test_agent_loop(self, model: Any) -> None:  # type: ignore[override]
        super().test_agent_loop(model)

    @_xfail(TINY + ": the call is made and named right, but the arguments are not the ones asked for")
    @pytest.mark.parametrize("model", [{}, {"output_version": "v1"}], indirect=True)
    def test_tool_calling(self, model: Any) -> None:  # type: ignore[override]
        super().test_tool_calling(model)

    @_xfail(TINY + ": the call is made and named right, but the arguments are not the ones asked for")
    async def test_tool_calling_async(self, model: Any) -> None:  # type: ignore[override]
        await super().test_tool_calling_async(model)

    @_xfail(TINY + ": the call is made and named right, but the arguments are not the ones asked for")
    def test_bind_runnables_as_tools(self, model: Any) -> None:  # type: ignore[override]
        super().test_bind_runnables_as_tools(model)

    @_xfail(TINY + ": the JSON has the right shape, but values of the wrong type or missing fields")
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    def test_structured_output(self, model: Any, schema_type: str) -> None:  # type: ignore[override]
        super().test_structured_output(model, schema_type)

    @_xfail(TINY + ": the JSON has the right shape, but values of the wrong type or missing fields")
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    async def test_structured_output_async(self, model: Any, schema_type: str) -> None:  # type: ignore[override]
        await super().test_structured_output_async(model, schema_type)

    @_xfail(TINY + ": the JSON has the right shape, but values of the wrong type or missing fields")
    def test_structured_output_pydantic_2_v1(self, model: Any) -> None:  # type: ignore[override]
        super().test_structured_output_pydantic_2_v1(model)

    @_xfail(TINY + ": the JSON has the right shape, but values of the wrong type or missing fields")
    def test_structured_output_optional_param(self, model: Any) -> None:  # type: ignore[override]
        super().test_structured_output_optional_param(model)

    @_xfail(TINY + ": the JSON object it writes does not have the requested keys and types")
    def test_json_mode(self, model: Any) -> None:  # type: ignore[override]
        super().test_json_mode(model)

    @_xfail(TINY + ": it calls the tool but does not copy the Chinese/Japanese name into the arguments")
    def test_unicode_tool_call_integration(self, model: Any, *, tool_choice: str | None = None,
                                           force_tool_call: bool = True) -> None:  # type: ignore[override]
        super().test_unicode_tool_call_integration(model, tool_choice=tool_choice, force_tool_call=force_tool_call)


@pytest.mark.timeout(120)
class TestChatDomesticEmulatorThink(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _server(self, emulator: Any) -> None:
        self.base_url = emulator.base_url

    @property
    def chat_model_class(self) -> type[ChatDomestic]:
        return ChatDomestic

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "deepseek-r1-distill-qwen-32b", "base_url": self.base_url}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[str]]:
        return {"invoke": ["reasoning_output"], "stream": ["reasoning_output"]}

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "qwen3-32b-think"

    @property
    def supports_image_inputs(self) -> bool:
        return False

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        model = ChatDomestic(**{**self.standard_chat_model_params, **self.chat_model_params})
        question = "Why is the sky blue? Think it over."
        return aggregate(list(model.stream(question))) if stream else model.invoke(question)

    @_xfail(V1_REASONING_AND_TOOL, strict=True)
    @pytest.mark.parametrize("model", [{"output_version": "v1"}], indirect=True)
    def test_tool_calling(self, model: Any) -> None:  # type: ignore[override]
        super().test_tool_calling(model)

    @pytest.mark.parametrize("model", [{}], indirect=True)
    def test_tool_calling_v0(self, model: Any) -> None:
        """The stock test_tool_calling with the default output version (passes; only v1 is xfailed above)."""
        super().test_tool_calling(model)

    @_xfail(EMULATED_MODEL, strict=True)
    def test_json_mode(self, model: Any) -> None:  # type: ignore[override]
        super().test_json_mode(model)

    @_xfail(EMULATED_MODEL, strict=True)
    def test_unicode_tool_call_integration(self, model: Any, *, tool_choice: str | None = None,
                                           force_tool_call: bool = True) -> None:  # type: ignore[override]
        super().test_unicode_tool_call_integration(model, tool_choice=tool_choice, force_tool_call=force_tool_call)

