"""Tool calling, structured output and agents, end to end against the emulator."""

from __future__ import annotations

from typing import TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from domestic_llm.testing import Reply, ScriptedToolCall
from langchain_domestic_llm import ChatDomestic, ConfigurationError

from .helpers import aggregate


@tool
def get_weather(city: str) -> str:
    """Return today's weather for a city."""
    return f"{city}：晴，25°C"


@tool
def get_time(city: str) -> str:
    """Return the local time in a city."""
    return f"{city}：14:30"


class Person(BaseModel):
    """A person."""

    name: str = Field(description="name")
    age: int = Field(description="age in years")


class PersonDict(TypedDict):
    """A person."""

    name: str
    age: int


PERSON_SCHEMA = {"title": "Person", "description": "A person.", "type": "object",
                 "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}


def llm(emulator, model="qwen-72b", **kw) -> ChatDomestic:
    return ChatDomestic(model=model, base_url=emulator.base_url, **kw)


TWO_CALLS = Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "北京"}, "call_w"),
                              ScriptedToolCall("get_time", {"city": "上海", "note": "长 JSON 碎片"}, "call_t")])


@pytest.mark.parametrize("style", ["openai", "hermes"])
def test_parallel_tool_calls_streamed_in_fragments_equal_invoke(emulator, style):
    emulator.state.tool_deltas = style
    emulator.state.chunk_bytes = 4
    emulator.script([TWO_CALLS, TWO_CALLS])
    model = llm(emulator).bind_tools([get_weather, get_time])
    invoked = model.invoke("天气和时间")
    chunks = list(model.stream("天气和时间"))
    streamed = aggregate(chunks)
    expected = [
        {"name": "get_weather", "args": {"city": "北京"}, "id": "call_w", "type": "tool_call"},
        {"name": "get_time", "args": {"city": "上海", "note": "长 JSON 碎片"}, "id": "call_t", "type": "tool_call"},
    ]
    assert invoked.tool_calls == expected
    assert streamed.tool_calls == expected
    assert sum(1 for c in chunks if c.tool_call_chunks) > 4  # arguments really came in fragments
    assert invoked.response_metadata["finish_reason"] == streamed.response_metadata["finish_reason"] == "tool_calls"
    body = emulator.requests[-1].json
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]


def test_invalid_tool_arguments_become_invalid_tool_calls(emulator):
    bad = Reply(tool_calls=[ScriptedToolCall("get_weather", '{"city": "北', "c1")])
    emulator.script([bad, bad])
    model = llm(emulator).bind_tools([get_weather])
    invoked = model.invoke("q")
    assert invoked.tool_calls == []
    assert invoked.invalid_tool_calls[0]["name"] == "get_weather"
    assert invoked.invalid_tool_calls[0]["args"] == '{"city": "北'
    assert "invalid JSON" in invoked.invalid_tool_calls[0]["error"]
    # streamed: no exception mid-stream and the raw text is kept; when chunks are merged,
    # langchain-core itself completes partial JSON (as it does for every provider)
    streamed = aggregate(model.stream("q"))
    assert streamed.tool_call_chunks[0]["args"] == '{"city": "北'


def test_tool_choice_forms_on_the_wire(emulator):
    base = llm(emulator)
    base.bind_tools([get_weather], tool_choice="any").invoke("q")
    assert emulator.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    base.bind_tools([get_weather, get_time], tool_choice="any").invoke("q")
    assert emulator.requests[-1].json["tool_choice"] == "required"
    base.bind_tools([get_weather, get_time], tool_choice="get_time").invoke("q")
    assert emulator.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    msg = base.bind_tools([get_weather], tool_choice="none").invoke("q")
    assert emulator.requests[-1].json["tool_choice"] == "none" and not msg.tool_calls
    with pytest.raises(ConfigurationError, match="get_weather"):
        base.bind_tools([get_weather], tool_choice="nope")


def test_tool_results_go_back_with_matching_ids_and_empty_content(emulator):
    model = llm(emulator).bind_tools([get_weather])
    history = [
        HumanMessage("北京天气"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "北京"}, "id": "call_9"}]),
        ToolMessage("晴", tool_call_id="call_9", name="get_weather"),
    ]
    answer = model.invoke(history)
    assert answer.content == "根据工具结果：晴"
    sent = emulator.requests[-1].json["messages"]
    assert sent[1] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}]}
    assert sent[2] == {"role": "tool", "content": "晴", "tool_call_id": "call_9"}


def test_lm_v2_sends_tool_results_as_function_turns(emulator):
    model = ChatDomestic(model="m", endpoint=emulator.endpoint("lm_v2")).bind_tools([get_weather])
    answer = model.invoke([
        HumanMessage("北京天气"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "北京"}, "id": "call_9"}]),
        ToolMessage("晴", tool_call_id="call_9", name="get_weather"),
    ])
    assert answer.content == "根据工具结果：晴"
    sent = emulator.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "function"]
    assert sent[2] == {"role": "function", "content": "晴", "name": "get_weather"}


def _agent(model):
    from langchain.agents import create_agent

    return create_agent(model, [get_weather, get_time], system_prompt="你是助手")


def _check_agent_run(emulator, messages):
    final = messages[-1]
    assert final.content == "根据工具结果：北京：晴，25°C；北京：14:30"
    second = emulator.requests[-1].json["messages"]
    assistant = next(m for m in second if m["role"] == "assistant")
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["get_weather", "get_time"]
    tool_turns = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_turns] == ids and assistant["content"] == ""
    assert len(emulator.requests) == 2


QUESTION = "北京 get_weather 和 get_time 各是多少？"


@pytest.mark.parametrize("streaming", [False, True])
def test_agent_with_two_tools_sync(emulator, streaming):
    agent = _agent(llm(emulator, streaming=streaming))
    result = agent.invoke({"messages": [("user", QUESTION)]})
    _check_agent_run(emulator, result["messages"])


@pytest.mark.parametrize("streaming", [False, True])
async def test_agent_with_two_tools_async(emulator, streaming):
    agent = _agent(llm(emulator, streaming=streaming))
    result = await agent.ainvoke({"messages": [("user", QUESTION)]})
    _check_agent_run(emulator, result["messages"])


async def test_agent_streams_steps(emulator):
    agent = _agent(llm(emulator))
    tokens = []
    async for chunk, _meta in agent.astream({"messages": [("user", QUESTION)]}, stream_mode="messages"):
        if chunk.content and chunk.type == "AIMessageChunk":
            tokens.append(chunk.content)
    assert "".join(tokens) == "根据工具结果：北京：晴，25°C；北京：14:30"
    assert len(tokens) > 3


@pytest.mark.parametrize("method", ["function_calling", "json_mode", "json_schema"])
@pytest.mark.parametrize("schema", [Person, PersonDict, PERSON_SCHEMA], ids=["pydantic", "typeddict", "jsonschema"])
def test_structured_output_every_method_and_schema_kind(emulator, method, schema):
    if method == "json_mode":  # no schema travels with json_mode: the prompt describes it, here a script does
        emulator.script([Reply(text='{"name": "张三", "age": 30}')])
    structured = llm(emulator).with_structured_output(schema, method=method)
    result = structured.invoke("张三 30")
    data = result.model_dump() if isinstance(result, BaseModel) else result
    assert data == {"name": "张三", "age": 30}
    if schema is Person:
        assert isinstance(result, Person)
    body = emulator.requests[-1].json
    if method == "function_calling":
        assert body["tool_choice"]["function"]["name"] in ("Person", "PersonDict")
    elif method == "json_mode":
        assert body["response_format"] == {"type": "json_object"}
    else:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["properties"]["age"]["type"] == "integer"


@pytest.mark.parametrize("method", ["json_mode", "json_schema"])
def test_structured_output_ignores_a_think_block(emulator, method):
    emulator.script([Reply(text='<think>\n用户要 JSON。{"name": "x"}\n</think>\n\n```json\n{"name": "李四", "age": 41}\n```')])
    result = llm(emulator).with_structured_output(Person, method=method).invoke("q")
    assert result == Person(name="李四", age=41)


def test_structured_output_from_a_reasoning_model_over_lm_v2(emulator):
    emulator.script([Reply(text='{"name": "王五", "age": 52}', reasoning="先想想")])  # sent inline as <think>
    structured = ChatDomestic(model="deepseek-r1", endpoint=emulator.endpoint("lm_v2")).with_structured_output(
        Person, method="json_mode")
    assert structured.invoke("王五 52") == Person(name="王五", age=52)


def test_structured_output_include_raw(emulator):
    emulator.script([Reply(text="not json")])
    out = llm(emulator).with_structured_output(Person, method="json_mode", include_raw=True).invoke("q")
    assert out["parsed"] is None and out["parsing_error"] is not None and out["raw"].content == "not json"
    out = llm(emulator).with_structured_output(Person, include_raw=True).invoke("赵六 7")
    assert out["parsed"] == Person(name="赵六", age=7) and out["raw"].tool_calls


def test_structured_output_bad_method():
    model = ChatDomestic(model="m", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigurationError, match="method='xml'"):
        model.with_structured_output(Person, method="xml")
