"""Tool calls recovered from text markup: the parser, streams over sockets, and agents on a markup-only server."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.tools import tool

from domestic_llm.testing import Reply, ScriptedToolCall
from domestic_llm.testing.behaviours import markup
from domestic_llm.toolmarkup import MarkupParser, extract_tool_calls
from langchain_domestic_llm import ChatDomestic

from .helpers import aggregate

# literal markup as the models write it (see the vLLM hermes / deepseek_v3 / kimi_k2 tool parsers)
HERMES = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>\n' \
         '<tool_call>\n{"name": "get_time", "arguments": {"city": "上海"}}\n</tool_call>'
DEEPSEEK_V3 = ("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
               '{"city": "北京"}\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n'
               '```json\n{"city": "上海"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>')
DEEPSEEK_V31 = ('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "北京"}<｜tool▁call▁end｜>'
                '<｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{"city": "上海"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>')
KIMI = ('<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>'
        '{"city": "北京"}<|tool_call_end|><|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>'
        '{"city": "上海"}<|tool_call_end|><|tool_calls_section_end|>')
EXPECTED = [("get_weather", {"city": "北京"}), ("get_time", {"city": "上海"})]


def _calls(calls):
    return [(c.name, json.loads(c.arguments)) for c in calls]


def _stream(pieces):
    parser = MarkupParser()
    shown, calls = [], []
    for p in pieces:
        text, got = parser.feed(p)
        shown.append(text)
        calls += got
    text, got = parser.flush()
    return "".join(shown) + text, calls + got


@pytest.mark.parametrize("text", [HERMES, DEEPSEEK_V3, DEEPSEEK_V31, KIMI], ids=["hermes", "deepseek", "v3.1", "kimi"])
def test_each_markup_split_at_every_point(text):
    full = f"我来查一下。{text}"
    shown, calls = extract_tool_calls(full)
    assert shown == "我来查一下。" and _calls(calls) == EXPECTED
    for cut in range(1, len(full)):
        assert _stream([full[:cut], full[cut:]])[0] == "我来查一下。"
        assert _calls(_stream([full[:cut], full[cut:]])[1]) == EXPECTED


def test_kimi_keeps_the_models_own_ids_others_get_fresh_ones():
    assert [c.id for c in extract_tool_calls(KIMI)[1]] == ["functions.get_weather:0", "functions.get_time:1"]
    ids = [c.id for c in extract_tool_calls(HERMES)[1]]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)


def test_only_a_possible_marker_start_is_held_back():
    parser = MarkupParser()
    assert parser.feed("a < b") == ("a < b", [])
    assert parser.feed("x <tool") == ("x ", [])
    assert parser.feed("s are fun") == ("<tools are fun", [])
    assert parser.feed("<｜") == ("", [])
    assert parser.flush() == ("<｜", [])


def test_invalid_json_and_unterminated_blocks_lose_nothing():
    _, calls = extract_tool_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": 北京}}\n</tool_call>')
    assert calls[0].name == "get_weather" and "北京" in calls[0].arguments
    with pytest.raises(ValueError):
        json.loads(calls[0].arguments)
    shown, calls = extract_tool_calls('答<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}')
    assert shown == "答" and _calls(calls) == [EXPECTED[0]]  # cut before the end tag: still complete JSON
    assert extract_tool_calls("答<tool_call>") == ("答<tool_call>", [])  # nothing to parse: given back as text


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([HERMES, DEEPSEEK_V3, DEEPSEEK_V31, KIMI]), st.lists(st.integers(0, 600), max_size=12))
def test_markup_streamed_in_random_pieces_equals_whole(text, cuts):
    full = f"前 <b>{text}\n 后"
    points = [0, *sorted({c % (len(full) + 1) for c in cuts}), len(full)]
    shown, calls = _stream([full[a:b] for a, b in zip(points, points[1:])])
    assert shown == "前 <b>后" and _calls(calls) == EXPECTED


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab <>|｜tool_call", max_size=30), st.lists(st.integers(0, 200), max_size=6))
def test_plain_text_streamed_equals_whole(text, cuts):
    points = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    assert _stream([text[a:b] for a, b in zip(points, points[1:])]) [0] == extract_tool_calls(text)[0]


# ---- end to end over sockets ---------------------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """Return today's weather for a city."""
    return f"{city}：晴，25°C"


@tool
def get_time(city: str) -> str:
    """Return the local time in a city."""
    return f"{city}：14:30"


TWO = Reply(text="", tool_calls=[ScriptedToolCall("get_weather", {"city": "北京"}),
                                 ScriptedToolCall("get_time", {"city": "上海"})])


@pytest.mark.parametrize("style", ["hermes", "deepseek", "deepseek-v3.1", "kimi"])
def test_markup_in_content_becomes_tool_calls_streamed_and_not(emulator, style):
    emulator.state.behaviour.tool_markup = style
    emulator.state.chunk_bytes = 2  # markers arrive split across many chunks
    emulator.script([TWO, TWO])
    model = ChatDomestic(model="qwen-72b", base_url=emulator.base_url).bind_tools([get_weather, get_time])
    invoked = model.invoke("q")
    chunks = list(model.stream("q"))
    streamed = aggregate(chunks)
    for msg in (invoked, streamed):
        assert msg.content == ""
        assert [(c["name"], c["args"]) for c in msg.tool_calls] == EXPECTED
        assert len({c["id"] for c in msg.tool_calls}) == 2
        assert msg.response_metadata["finish_reason"] == "tool_calls"
        assert msg.response_metadata["text_tool_calls"] == 2
    assert all(c.content == "" for c in chunks)  # no piece of markup was ever shown


def test_invalid_arguments_in_markup_become_invalid_tool_calls(emulator):
    emulator.state.behaviour.tool_markup = "hermes"
    emulator.script([Reply(tool_calls=[ScriptedToolCall("get_weather", '{"city": 北京}')])])
    msg = ChatDomestic(model="m", base_url=emulator.base_url).bind_tools([get_weather]).invoke("q")
    assert msg.tool_calls == [] and msg.invalid_tool_calls[0]["name"] == "get_weather"
    assert msg.invalid_tool_calls[0]["args"] == '{"city": 北京}'


def test_markup_is_left_alone_without_tools_or_when_switched_off(emulator):
    emulator.state.behaviour.tool_markup = "kimi"
    emulator.script([TWO, TWO])
    off = ChatDomestic(model="m", base_url=emulator.base_url, text_tool_calls=False).bind_tools([get_weather])
    msg = off.invoke("q")
    assert msg.tool_calls == [] and msg.content.startswith("<|tool_calls_section_begin|>")
    msg = ChatDomestic(model="m", base_url=emulator.base_url).invoke("q")  # no tools bound
    assert msg.tool_calls == [] and "<|tool_call_begin|>" in msg.content


def test_calls_left_inside_reasoning_are_used_when_the_answer_has_none(emulator):
    inside = Reply(text="", reasoning="我要查天气。" + markup([ScriptedToolCall("get_weather", {"city": "北京"})], "hermes"))
    emulator.script([inside, inside])
    model = ChatDomestic(model="deepseek-r1", base_url=emulator.base_url).bind_tools([get_weather])
    for msg in (model.invoke("q"), aggregate(model.stream("q"))):
        assert [(c["name"], c["args"]) for c in msg.tool_calls] == [EXPECTED[0]]
        assert msg.additional_kwargs["reasoning_content"].startswith("我要查天气。<tool_call>")  # left as delivered
    both = Reply(text=markup([ScriptedToolCall("get_time", {"city": "上海"})], "hermes"), reasoning=inside.reasoning)
    emulator.script([both])
    assert [c["name"] for c in model.invoke("q").tool_calls] == ["get_time"]  # the answer's calls win


# ---- agents against a server that only writes tool calls as text ---------------------------------------

QUESTION = "北京 get_weather 和 get_time 各是多少？"
FINAL = "根据工具结果：北京：晴，25°C；北京：14:30"


def _check_second_request(emulator):
    second = emulator.requests[-1].json["messages"]
    assistant = next(m for m in second if m["role"] == "assistant")
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["get_weather", "get_time"]
    assert [m["tool_call_id"] for m in second if m["role"] == "tool"] == [c["id"] for c in assistant["tool_calls"]]
    assert assistant["content"] == ""
    assert sum(r.path.endswith("/chat/completions") for r in emulator.requests) == 2  # LlamaIndex also GETs /models


@pytest.mark.parametrize(("style", "streaming"), [("hermes", False), ("hermes", True), ("deepseek", True),
                                                  ("kimi", False)])
def test_langchain_agent_on_a_markup_only_server(emulator, style, streaming):
    from langchain.agents import create_agent

    emulator.state.behaviour.tool_markup = style
    emulator.state.chunk_bytes = 5
    llm = ChatDomestic(model="Qwen3-32B", base_url=emulator.base_url, streaming=streaming)
    agent = create_agent(llm, [get_weather, get_time], system_prompt="你是助手")
    result = agent.invoke({"messages": [("user", QUESTION)]})
    assert result["messages"][-1].content == FINAL
    _check_second_request(emulator)


async def test_langchain_agent_streams_no_markup(emulator):
    from langchain.agents import create_agent

    emulator.state.behaviour.tool_markup = "hermes"
    emulator.state.chunk_bytes = 3
    agent = create_agent(ChatDomestic(model="qwen-72b", base_url=emulator.base_url), [get_weather, get_time])
    tokens = []
    async for chunk, _meta in agent.astream({"messages": [("user", QUESTION)]}, stream_mode="messages"):
        if chunk.type == "AIMessageChunk" and chunk.content:
            tokens.append(chunk.content)
    assert "".join(tokens) == FINAL


@pytest.mark.parametrize("streaming", [False, True])
def test_llamaindex_function_agent_on_a_markup_only_server(emulator, streaming):
    from llama_index.core.agent.workflow import AgentStream, FunctionAgent
    from llama_index.core.tools import FunctionTool

    from llamaindex_domestic_llm import DomesticLLM

    def weather(city: str) -> str:
        """Return today's weather for a city."""
        return f"{city}：晴，25°C"

    def local_time(city: str) -> str:
        """Return the local time in a city."""
        return f"{city}：14:30"

    emulator.state.behaviour.tool_markup = "hermes"
    emulator.state.chunk_bytes = 4
    tools = [FunctionTool.from_defaults(weather, name="get_weather"), FunctionTool.from_defaults(local_time, name="get_time")]
    agent = FunctionAgent(tools=tools, llm=DomesticLLM(model="Qwen3-32B", base_url=emulator.base_url),
                          system_prompt="你是助手", streaming=streaming)

    async def run():
        handler = agent.run(user_msg=QUESTION)
        deltas = []
        async for event in handler.stream_events():
            if isinstance(event, AgentStream):
                deltas.append(event.delta)
        return await handler, "".join(deltas)

    result, shown = asyncio.run(run())
    assert str(result) == FINAL
    if streaming:
        assert shown == FINAL  # the markup of the first turn never reached the stream
    _check_second_request(emulator)
