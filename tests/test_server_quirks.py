"""What a real server (llama.cpp's) taught us, reproduced on the emulator and in the dialect.

Each behaviour is also checked against the real server in `test_llamacpp_e2e.py`:
* tool-call deltas that repeat the call's `id` and whole `function.name` in every fragment;
* `tool_choice="required"`/`"any"` ignored unless it names a function;
* `response_format` of type `json_schema` refused (HTTP 500);
* no usage in streams even when asked.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from langchain_core.tools import tool
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from domestic_llm import BadRequestError, ChatClient, ServerError
from domestic_llm.structured import json_object_request
from domestic_llm.types import ChatRequest, Message
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

from .helpers import aggregate, run_stream


def sse(*objs) -> bytes:
    return b"".join(b"data: " + (o if isinstance(o, str) else json.dumps(o)).encode() + b"\n\n" for o in objs)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"{city}：晴，25°C"


@tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"{city}：14:30"


WEATHER_SPEC = {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
                                                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                                "required": ["city"]}}}


def merged_calls(chunks) -> dict[int, dict]:
    """Neutral tool-call deltas merged the way every consumer merges them: ids kept, names and arguments added."""
    calls: dict[int, dict] = {}
    for c in chunks:
        for d in c.tool_calls:
            call = calls.setdefault(d.index, {"id": None, "name": "", "args": ""})
            call["id"] = call["id"] or d.id
            call["name"] += d.name or ""
            call["args"] += d.arguments or ""
    return calls


# ---- repeated tool name / id in every delta -------------------------------------------------


def test_dialect_drops_a_name_and_id_repeated_in_every_fragment():
    # llama.cpp's server: each fragment carries index, id, type and the whole name again
    frag = {"index": 0, "id": "call_Ab1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    data = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [frag]}}]},
        *[{"choices": [{"index": 0, "delta": {"tool_calls": [{**frag, "function": {"name": "get_weather",
                                                                                    "arguments": piece}}]}}]}
          for piece in ('{"city"', ': "Paris', '"}')],
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "[DONE]",
    )
    out = run_stream("openai", data)
    deltas = [d for c in out.chunks for d in c.tool_calls]
    assert [d.name for d in deltas] == ["get_weather", None, None, None]
    assert [d.id for d in deltas] == ["call_Ab1", None, None, None]
    assert merged_calls(out.chunks) == {0: {"id": "call_Ab1", "name": "get_weather", "args": '{"city": "Paris"}'}}


def test_dialect_keeps_name_fragments_and_a_second_call_with_its_own_id():
    # a name streamed in pieces is still assembled; a new index is a new call with its own id and name
    data = sse(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "get_"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "weather",
                                                                                      "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "get_weather",
                                                                                                 "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "get_weather",
                                                                                                 "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "[DONE]",
    )
    calls = merged_calls(run_stream("openai", data).chunks)
    assert calls == {0: {"id": "a", "name": "get_weather", "args": "{}"}, 1: {"id": "b", "name": "get_weather", "args": "{}"}}


def test_dialect_without_index_a_repeated_id_continues_the_same_call():
    frag = {"id": "c1", "type": "function", "function": {"name": "get_weather"}}
    data = sse(
        {"choices": [{"index": 0, "delta": {"tool_calls": [frag]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{**frag, "function": {"name": "get_weather",
                                                                                  "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "[DONE]",
    )
    assert merged_calls(run_stream("openai", data).chunks) == {0: {"id": "c1", "name": "get_weather", "args": "{}"}}


def test_chat_client_stream_and_astream_with_repeated_names(emulator):
    emulator.state.tool_deltas = "repeat"
    client = ChatClient(model="qwen-72b", base_url=emulator.base_url)
    request = ChatRequest("qwen-72b", [Message("user", "北京 get_weather")], tools=[WEATHER_SPEC], tool_choice="auto")
    chunks = list(client.stream(request))
    assert sum(len(c.tool_calls) for c in chunks) > 2  # several fragments, each repeating name and id on the wire
    assert merged_calls(chunks) == {0: {"id": "call_0", "name": "get_weather", "args": '{"city": "北京"}'}}
    assert chunks[-1].finish_reason == "tool_calls"


async def test_chat_client_astream_with_repeated_names(emulator):
    emulator.state.tool_deltas = "repeat"
    client = ChatClient(model="qwen-72b", base_url=emulator.base_url)
    request = ChatRequest("qwen-72b", [Message("user", "北京 get_weather")], tools=[WEATHER_SPEC], tool_choice="auto")
    chunks = [c async for c in client.astream(request)]
    assert merged_calls(chunks) == {0: {"id": "call_0", "name": "get_weather", "args": '{"city": "北京"}'}}


def check_one_weather_call(message) -> None:
    assert [(c["name"], c["args"], c["id"]) for c in message.tool_calls] == [("get_weather", {"city": "北京"}, "call_0")]
    assert [c["name"] for c in message.tool_call_chunks] == ["get_weather"]
    assert not message.invalid_tool_calls


def test_langchain_stream_merges_repeated_names_into_one_call(emulator):
    emulator.state.tool_deltas = "repeat"
    model = ChatDomestic(model="qwen-72b", base_url=emulator.base_url).bind_tools([get_weather, get_time])
    chunks = list(model.stream("北京 get_weather"))
    assert sum(len(c.tool_call_chunks) for c in chunks) > 2
    check_one_weather_call(aggregate(chunks))


async def test_langchain_astream_and_streaming_invoke_merge_repeated_names(emulator):
    emulator.state.tool_deltas = "repeat"
    model = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    check_one_weather_call(aggregate([c async for c in model.bind_tools([get_weather]).astream("北京 get_weather")]))
    streamed_invoke = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, streaming=True)
    message = streamed_invoke.bind_tools([get_weather]).invoke("北京 get_weather")
    assert [(c["name"], c["id"]) for c in message.tool_calls] == [("get_weather", "call_0")]


LI_TOOLS = [FunctionTool.from_defaults(fn=lambda city: f"{city}：晴", name="get_weather", description="The weather."),
            FunctionTool.from_defaults(fn=lambda city: f"{city}：14:30", name="get_time", description="The time.")]


def test_llamaindex_stream_chat_with_repeated_names(emulator):
    emulator.state.tool_deltas = "repeat"
    model = DomesticLLM(model="qwen-72b", base_url=emulator.base_url)
    last = None
    for last in model.stream_chat([ChatMessage(role="user", content="北京 get_weather")], tools=[WEATHER_SPEC]):
        pass
    blocks = [b for b in last.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_call_id, b.tool_name, b.tool_kwargs) for b in blocks] == [("call_0", "get_weather", '{"city": "北京"}')]
    selections = model.get_tool_calls_from_response(last)
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [("get_weather", {"city": "北京"})]


async def test_llamaindex_astream_chat_with_tools_and_repeated_names(emulator):
    emulator.state.tool_deltas = "repeat"
    model = DomesticLLM(model="qwen-72b", base_url=emulator.base_url)
    last = None
    async for last in await model.astream_chat_with_tools(LI_TOOLS, user_msg="北京 get_weather"):
        pass
    assert [(s.tool_name, s.tool_id) for s in model.get_tool_calls_from_response(last)] == [("get_weather", "call_0")]


# ---- tool_choice "any" / "required" with one tool ---------------------------------------------------


def test_required_with_a_single_tool_is_sent_as_that_function(emulator):
    emulator.state.named_tool_choice_only = True  # like llama.cpp: "required" alone is ignored
    model = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    for choice in ("any", "required", True):
        message = model.bind_tools([get_weather], tool_choice=choice).invoke("天气怎么样？北京")
        assert [c["name"] for c in message.tool_calls] == ["get_weather"], choice
        assert emulator.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    # with several tools "required" cannot be narrowed: it is sent as it is
    model.bind_tools([get_weather, get_time], tool_choice="any").invoke("北京")
    assert emulator.requests[-1].json["tool_choice"] == "required"


def test_llamaindex_tool_required_with_a_single_tool_names_it(emulator):
    emulator.state.named_tool_choice_only = True
    model = DomesticLLM(model="qwen-72b", base_url=emulator.base_url)
    response = model.chat_with_tools(LI_TOOLS[:1], user_msg="北京", tool_required=True)
    assert [s.tool_name for s in model.get_tool_calls_from_response(response)] == ["get_weather"]
    assert emulator.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


# ---- json_schema refused → json_object with the schema in the instructions ----------------------------


class City(BaseModel):
    name: str
    population: int


def test_json_schema_refused_falls_back_to_json_object_once_then_remembers(emulator, caplog):
    from domestic_llm.testing import Reply

    emulator.state.reject_json_schema = True
    emulator.script([Reply(text='{"name": "北京", "population": 21000000}'),
                     Reply(text='{"name": "上海", "population": 24000000}')])
    model = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, max_retries=0)
    structured = model.with_structured_output(City, method="json_schema")
    assert structured.invoke("北京有多少人？") == City(name="北京", population=21000000)
    first, second = (r.json for r in emulator.requests)
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"] == {"type": "json_object"}
    assert second["messages"][0]["role"] == "system" and '"population"' in second["messages"][0]["content"]
    assert second["messages"][1:] == first["messages"]
    assert "refused response_format json_schema" in caplog.text
    # remembered for this instance: the next call goes straight to json_object
    assert structured.invoke("上海呢？") == City(name="上海", population=24000000)
    assert [r.json["response_format"]["type"] for r in emulator.requests] == ["json_schema", "json_object", "json_object"]
    # another instance starts afresh
    ChatDomestic(model="qwen-72b", base_url=emulator.base_url, max_retries=0).with_structured_output(
        City, method="json_schema", include_raw=True).invoke("广州？")
    assert emulator.requests[-2].json["response_format"]["type"] == "json_schema"


async def test_json_schema_fallback_async_stream_and_llamaindex(emulator):
    emulator.state.reject_json_schema = True
    fmt = {"type": "json_schema", "json_schema": {"name": "City", "schema": City.model_json_schema()}}
    client = ChatClient(model="qwen-72b", base_url=emulator.base_url, max_retries=0)
    text = "".join([c.text async for c in client.astream(ChatRequest("qwen-72b", [Message("user", "北京")],
                                                                      response_format=fmt))])
    assert json.loads(text) is not None and client.json_schema_refused
    assert [r.json["response_format"]["type"] for r in emulator.requests] == ["json_schema", "json_object"]
    li = DomesticLLM(model="qwen-72b", base_url=emulator.base_url, max_retries=0)
    li.chat([ChatMessage(role="system", content="你是助手"), ChatMessage(role="user", content="北京")],
            response_format=fmt)
    last = emulator.requests[-1].json
    assert last["response_format"] == {"type": "json_object"}
    assert last["messages"][0]["content"].startswith("你是助手\n\n") and "JSON schema" in last["messages"][0]["content"]


URL = "http://gw.example:1025/v1/chat/completions"
OK = {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"}, "finish_reason": "stop"}]}
FMT = {"type": "json_schema", "json_schema": {"name": "City", "schema": City.model_json_schema()}}


@respx.mock
def test_json_schema_fallback_not_remembered_when_the_retry_fails_too():
    route = respx.post(URL).mock(side_effect=[
        httpx.Response(500, json={"error": {"message": "response_format.type: Input should be 'text' or 'json_object'"}}),
        httpx.Response(400, json={"error": {"message": "messages too long"}}),
        httpx.Response(200, json=OK),
    ])
    client = ChatClient(model="m", base_url="http://gw.example:1025/v1", max_retries=0)
    with pytest.raises(BadRequestError, match="messages too long"):
        client.invoke(ChatRequest("m", [Message("user", "x")], response_format=FMT))
    assert not client.json_schema_refused
    client.invoke(ChatRequest("m", [Message("user", "x")], response_format=FMT))
    sent = [json.loads(c.request.content)["response_format"]["type"] for c in route.calls]
    assert sent == ["json_schema", "json_object", "json_schema"]


@respx.mock
def test_an_unrelated_500_is_retried_as_a_server_error_not_a_format_fallback():
    route = respx.post(URL).mock(side_effect=[
        httpx.Response(500, json={"error": {"message": "CUDA out of memory"}}),
        httpx.Response(500, json={"error": {"message": "CUDA out of memory"}}),
    ])
    client = ChatClient(model="m", base_url="http://gw.example:1025/v1", max_retries=1)
    with pytest.raises(ServerError, match="CUDA out of memory"):
        client.invoke(ChatRequest("m", [Message("user", "x")], response_format=FMT))
    assert [json.loads(c.request.content)["response_format"]["type"] for c in route.calls] == ["json_schema"] * 2


def test_json_object_request_keeps_the_callers_system_prompt_and_copies():
    request = ChatRequest("m", [Message("system", "Be brief."), Message("user", "x")], response_format=FMT)
    fallback = json_object_request(request)
    assert request.response_format == FMT and request.messages[0].content == "Be brief."  # original untouched
    assert fallback.response_format == {"type": "json_object"}
    assert fallback.messages[0].content.startswith("Be brief.\n\n") and '"population"' in fallback.messages[0].content
    assert fallback.messages[1:] == request.messages[1:]


# ---- a server that never sends stream usage ----------------------------------------------------------


async def test_missing_stream_usage_stays_none_everywhere(emulator):
    emulator.state.ignore_stream_options = True
    client = ChatClient(model="qwen-72b", base_url=emulator.base_url)
    chunks = list(client.stream("你好"))
    assert "stream_options" in emulator.requests[-1].json  # asked for, not given
    assert chunks[-1].final and chunks[-1].usage is None and chunks[-1].finish_reason == "stop"
    assert [c async for c in client.astream("你好")][-1].usage is None
    model = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    assert aggregate(list(model.stream("你好"))).usage_metadata is None
    assert aggregate([c async for c in model.astream("你好")]).usage_metadata is None
    last = None
    for last in DomesticLLM(model="qwen-72b", base_url=emulator.base_url).stream_chat(
            [ChatMessage(role="user", content="你好")]):
        pass
    assert last.raw["finish_reason"] == "stop"
    assert "prompt_tokens" not in last.raw and not last.raw["usage"]
