"""ChatDomestic and DomesticLLM end to end against a real server: llama.cpp with SmolLM2-135M.

A server we did not write (see `domestic_llm.testing.llamacpp`). The model is tiny and
its words are not the point: every assertion is an invariant of the protocol (one tool
call named X, `finish_reason == "length"` under `max_tokens`, usage adding up, JSON that
parses), never the model's wording. Timeouts are generous: CI shares two busy cores.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.tools import FunctionTool

from domestic_llm import ChatClient
from domestic_llm.testing.llamacpp import MODEL_ALIAS
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

from .helpers import aggregate

pytestmark = pytest.mark.timeout(300)

SHORT = 24  # tokens: enough for a sentence, quick on one busy core
JSON_TOKENS = 128  # these prompts get 17-45 token JSON answers (grammar-constrained): room to finish


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 25 degrees in {city}."


def chat(server, **kw) -> ChatDomestic:
    kw.setdefault("max_tokens", SHORT)
    kw.setdefault("temperature", 0)
    return ChatDomestic(model=MODEL_ALIAS, base_url=server.base_url, timeout=240, max_retries=0, **kw)


def li(server, **kw) -> DomesticLLM:
    kw.setdefault("max_tokens", SHORT)
    kw.setdefault("temperature", 0)
    return DomesticLLM(model=MODEL_ALIAS, base_url=server.base_url, timeout=240, max_retries=0, **kw)


def check_usage(usage) -> None:
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


# ---- ChatDomestic -----------------------------------------------------------------------------


def test_invoke_text_usage_and_metadata(llamacpp_server):
    msg = chat(llamacpp_server).invoke("What is the capital of France?")
    assert isinstance(msg.content, str) and msg.content.strip()
    assert msg.response_metadata["finish_reason"] in ("stop", "length")
    assert msg.response_metadata["model_name"] == MODEL_ALIAS
    check_usage(msg.usage_metadata)


def test_stream_and_astream_assemble_and_have_no_invented_usage(llamacpp_server):
    model = chat(llamacpp_server)
    chunks = list(model.stream("Name three colors."))
    assert len(chunks) > 3
    total = aggregate(chunks)
    assert total.content.strip() and total.content == "".join(c.content for c in chunks)
    assert total.response_metadata["finish_reason"] in ("stop", "length")
    # llama.cpp sends no usage in streams even when asked: None, never made up
    assert total.usage_metadata is None


async def test_astream(llamacpp_server):
    chunks = [c async for c in chat(llamacpp_server).astream("Name three animals.")]
    total = aggregate(chunks)
    assert len(chunks) > 3 and total.content.strip()
    assert total.response_metadata["finish_reason"] in ("stop", "length")


def test_batch(llamacpp_server):
    answers = chat(llamacpp_server).batch(["Say hi.", "Say bye."])
    assert len(answers) == 2 and all(a.content.strip() for a in answers)


def test_max_tokens_gives_length(llamacpp_server):
    msg = chat(llamacpp_server, max_tokens=5).invoke("Write a long story about a dragon.")
    assert msg.response_metadata["finish_reason"] == "length"
    assert msg.usage_metadata["output_tokens"] == 5
    streamed = aggregate(list(chat(llamacpp_server, max_tokens=5).stream("Write a long story about a dragon.")))
    assert streamed.response_metadata["finish_reason"] == "length"


def test_stop_sequence_ends_the_answer_before_it(llamacpp_server):
    prompt = "Count from 1 to 10, separated by commas."
    free = chat(llamacpp_server, max_tokens=30).invoke(prompt).content
    assert "," in free  # the precondition: without a stop sequence the model does write one
    for model in (chat(llamacpp_server, max_tokens=30, stop=[","]), chat(llamacpp_server, max_tokens=30)):
        msg = model.invoke(prompt, stop=[","])
        assert "," not in msg.content and msg.response_metadata["finish_reason"] == "stop"
    streamed = aggregate(list(chat(llamacpp_server, max_tokens=30).stream(prompt, stop=[","])))
    assert "," not in streamed.content and streamed.response_metadata["finish_reason"] == "stop"


def one_weather_call(message) -> dict:
    assert len(message.tool_calls) == 1, message.tool_calls
    call = message.tool_calls[0]
    assert call["name"] == "get_weather" and isinstance(call["args"], dict) and call["id"]
    assert not message.invalid_tool_calls
    return call


@pytest.mark.parametrize("streamed", [False, True], ids=["invoke", "stream"])
def test_forced_tool_call_round_trip(llamacpp_server, streamed):
    model = chat(llamacpp_server, max_tokens=64).bind_tools([get_weather], tool_choice="get_weather")
    question = HumanMessage("What is the weather in Paris?")
    if streamed:
        chunks = list(model.stream([question]))
        first = aggregate(chunks)
        # the server repeats name and id in every delta; merged, they must not pile up
        assert sum(len(c.tool_call_chunks) for c in chunks) > 1
        assert [c["name"] for c in first.tool_call_chunks] == ["get_weather"]
    else:
        first = model.invoke([question])
    assert first.response_metadata["finish_reason"] in ("tool_calls", "stop")
    call = one_weather_call(first)
    result = ToolMessage("It is sunny and 25 degrees.", tool_call_id=call["id"])
    history = [question, AIMessage(content="", tool_calls=first.tool_calls), result]
    answer = chat(llamacpp_server).invoke(history) if not streamed else aggregate(
        list(chat(llamacpp_server).stream(history)))
    assert answer.content.strip() and not answer.tool_calls


async def test_forced_tool_call_astream(llamacpp_server):
    model = chat(llamacpp_server, max_tokens=64).bind_tools([get_weather], tool_choice="get_weather")
    one_weather_call(aggregate([c async for c in model.astream("What is the weather in Tokyo?")]))


@pytest.mark.parametrize("choice", ["any", "required"])
def test_tool_choice_any_with_one_tool_is_honoured(llamacpp_server, choice):
    # llama.cpp ignores "required": it is sent as the one bound function instead
    model = chat(llamacpp_server, max_tokens=64).bind_tools([get_weather], tool_choice=choice)
    one_weather_call(aggregate(list(model.stream("What is the weather in Rome?"))))


def test_json_mode(llamacpp_server):
    model = chat(llamacpp_server, max_tokens=JSON_TOKENS)
    structured = model.with_structured_output(method="json_mode")
    data = structured.invoke("Give a JSON object with a key 'city' whose value is 'Paris'.")
    assert isinstance(data, dict)


def test_json_schema_falls_back_to_json_object_and_remembers(llamacpp_server):
    schema = {"title": "City", "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    model = chat(llamacpp_server, max_tokens=JSON_TOKENS)
    structured = model.with_structured_output(schema, method="json_schema", include_raw=True)
    out = structured.invoke("Give the city Paris as JSON.")
    assert out["parsing_error"] is None and isinstance(out["parsed"], dict)  # valid JSON came back
    assert model.client.json_schema_refused  # the server's 500 taught us; remembered for this instance
    again = structured.invoke("Give the city Rome as JSON.")
    assert again["parsing_error"] is None


def test_stream_cancelled_midway_then_a_normal_call(llamacpp_server):
    model = chat(llamacpp_server, max_tokens=48)
    stream = model.stream("Tell me about the sea.")
    got = [next(stream) for _ in range(3)]
    stream.close()  # the consumer walks away; the connection is closed, not drained
    assert len(got) == 3
    msg = chat(llamacpp_server).invoke("Say hello.")
    assert msg.content.strip() and msg.response_metadata["finish_reason"] in ("stop", "length")


async def test_ainvoke_and_plain_client(llamacpp_server):
    msg = await chat(llamacpp_server).ainvoke([SystemMessage("You are brief."), HumanMessage("Hi!")])
    assert msg.content.strip()
    client = ChatClient(model=MODEL_ALIAS, base_url=llamacpp_server.base_url, timeout=240)
    result = client.invoke("Say yes.", max_tokens=8)
    assert result.text.strip() and result.usage is not None and result.usage.output_tokens <= 8


async def test_list_models(llamacpp_server):
    assert chat(llamacpp_server).list_models() == [MODEL_ALIAS]
    assert await li(llamacpp_server).alist_models() == [MODEL_ALIAS]


# ---- DomesticLLM ------------------------------------------------------------------------------------


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def test_llamaindex_chat_stream_and_complete(llamacpp_server):
    model = li(llamacpp_server)
    response = model.chat(user("What is the capital of Italy?"))
    assert response.message.content.strip()
    assert response.raw["finish_reason"] in ("stop", "length") and response.raw["usage"]["completion_tokens"] > 0
    deltas, last = [], None
    for last in model.stream_chat(user("Name two fruits.")):
        deltas.append(last.delta)
    assert last is not None and "".join(deltas) == last.message.content and last.message.content.strip()
    assert model.complete("The sky is").text.strip()


async def test_llamaindex_async(llamacpp_server):
    model = li(llamacpp_server)
    assert (await model.achat(user("Say hi."))).message.content.strip()
    last = None
    async for last in await model.astream_chat(user("Say bye.")):
        pass
    assert last is not None and last.message.content.strip()


def test_llamaindex_max_tokens_gives_length(llamacpp_server):
    response = li(llamacpp_server, max_tokens=4).chat(user("Write a long poem about rivers."))
    assert response.raw["finish_reason"] == "length" and response.raw["usage"]["completion_tokens"] == 4


def _li_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}."


LI_WEATHER = FunctionTool.from_defaults(fn=_li_weather, name="get_weather")


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream_chat"])
def test_llamaindex_forced_tool_call_round_trip(llamacpp_server, streamed):
    model = li(llamacpp_server, max_tokens=64)
    question = "What is the weather in Berlin?"
    if streamed:
        last = None
        for last in model.stream_chat_with_tools([LI_WEATHER], user_msg=question, tool_required=True):
            pass
        response = last
    else:
        response = model.chat_with_tools([LI_WEATHER], user_msg=question, tool_required=True)
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [b.tool_name for b in blocks] == ["get_weather"]
    calls = model.get_tool_calls_from_response(response)
    assert len(calls) == 1 and calls[0].tool_name == "get_weather" and calls[0].tool_id
    history = [*user(question), response.message,
               ChatMessage(role="tool", content="Sunny, 25 degrees.",
                           additional_kwargs={"tool_call_id": calls[0].tool_id})]
    answer = li(llamacpp_server).chat(history)
    assert answer.message.content.strip()


def test_llamaindex_json_mode(llamacpp_server):
    response = li(llamacpp_server, max_tokens=JSON_TOKENS).chat(
        user("Reply with a JSON object with key 'answer'."), response_format={"type": "json_object"})
    assert isinstance(json.loads(response.message.content), dict)
