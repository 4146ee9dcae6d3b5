"""DomesticLLM end to end against the emulator: every method, reasoning, usage, tools, agents, RAG."""

from __future__ import annotations

import asyncio

from llama_index.core.base.llms.types import ChatMessage, TextBlock, ThinkingBlock
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from domestic_llm.testing import Reply, ScriptedToolCall
from domestic_llm.testing.replies import pieces
from llamaindex_domestic_llm import DomesticLLM

Q = "介绍一下长江"
ANSWER = f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"
REASONING = f"用户问的是“{Q}”。先想清楚要点，再简洁作答。"
USAGE = {"prompt_tokens": len(Q), "completion_tokens": len(pieces(ANSWER)) + len(pieces(REASONING)),
         "total_tokens": len(Q) + len(pieces(ANSWER)) + len(pieces(REASONING)), "reasoning_tokens": len(pieces(REASONING))}


def llm(emulator, model="deepseek-r1-distill-qwen-32b", **kw) -> DomesticLLM:
    return DomesticLLM(model=model, base_url=emulator.base_url, **kw)


def user(text=Q):
    return [ChatMessage(role="user", content=text)]


def check_answer(response):
    blocks = response.message.blocks
    assert isinstance(blocks[0], ThinkingBlock) and blocks[0].content == REASONING
    assert response.message.content == ANSWER
    extra = response.additional_kwargs
    assert extra["usage"] == USAGE and extra["prompt_tokens"] == USAGE["prompt_tokens"]
    assert extra["finish_reason"] == "stop" and extra["id"].startswith("chatcmpl-emu-")
    assert response.raw["usage"] == USAGE


def test_chat(emulator):
    check_answer(llm(emulator).chat(user()))


async def test_achat(emulator):
    check_answer(await llm(emulator).achat(user()))


def test_stream_chat(emulator):
    emulator.state.chunk_bytes = 5
    responses = list(llm(emulator).stream_chat(user()))
    assert "".join(r.delta or "" for r in responses) == ANSWER
    thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
    assert thinking == REASONING
    assert sum(1 for r in responses if r.additional_kwargs.get("thinking_delta")) > 3
    check_answer(responses[-1])


async def test_astream_chat(emulator):
    gen = await llm(emulator).astream_chat(user())
    responses = [r async for r in gen]
    assert "".join(r.delta or "" for r in responses) == ANSWER
    assert "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses) == REASONING
    check_answer(responses[-1])


def test_complete_and_stream_complete(emulator):
    model = llm(emulator)
    completion = model.complete(Q)
    assert completion.text == ANSWER and completion.additional_kwargs["usage"] == USAGE
    streamed = list(model.stream_complete(Q))
    assert "".join(c.delta or "" for c in streamed) == ANSWER and streamed[-1].text == ANSWER
    assert streamed[-1].additional_kwargs["usage"] == USAGE


async def test_acomplete_and_astream_complete(emulator):
    model = llm(emulator)
    assert (await model.acomplete(Q)).text == ANSWER
    gen = await model.astream_complete(Q)
    streamed = [c async for c in gen]
    assert "".join(c.delta or "" for c in streamed) == ANSWER


def test_thinking_in_history_is_sent_back_only_on_request(emulator):
    history = [*user("a"), ChatMessage(role="assistant", blocks=[ThinkingBlock(content="旧推理"), TextBlock(text="b")]),
               *user()]
    llm(emulator).chat(history)
    assert emulator.requests[-1].json["messages"][1] == {"role": "assistant", "content": "b"}
    llm(emulator, send_reasoning=True).chat(history)
    assert emulator.requests[-1].json["messages"][1]["reasoning_content"] == "旧推理"


def test_metadata_tells_the_truth(emulator):
    meta = llm(emulator, max_tokens=512, context_window=32768).metadata
    assert (meta.model_name, meta.is_chat_model, meta.is_function_calling_model) == ("deepseek-r1-distill-qwen-32b", True, True)
    assert (meta.context_window, meta.num_output) == (32768, 512)


def test_key_is_never_serialised(emulator):
    model = llm(emulator, api_key="sk-very-secret")
    assert "sk-very-secret" not in model.to_json() and "sk-very-secret" not in str(model.to_dict())
    assert "sk-very-secret" not in repr(model) and "sk-very-secret" not in str(model)


def test_sampling_params_and_gateway_dialect(emulator):
    model = DomesticLLM(model="deepseek-r1", endpoint=emulator.endpoint("lm_v2"), temperature=0.3, max_tokens=99)
    response = model.chat([ChatMessage(role="system", content="s"), *user()])
    # lm_v2: the system text is folded into the user turn, and <think> is split out of the content
    assert response.message.blocks[0].content.strip() == f"用户问的是“s\n\n{Q}”。先想清楚要点，再简洁作答。"
    assert "<think>" not in response.message.content
    assert response.additional_kwargs["raw_finish_reason"] == "normal"
    body = emulator.requests[-1].json
    assert body["temperature"] == 0.3 and body["max_completion_tokens"] == 99


# ---- tools ------------------------------------------------------------------------------

def get_weather(city: str) -> str:
    """Return today's weather for a city."""
    return f"{city}：晴，25°C"


def get_time(city: str) -> str:
    """Return the local time in a city."""
    return f"{city}：14:30"


TOOLS = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(get_time)]


def test_chat_with_tools_and_get_tool_calls(emulator):
    model = llm(emulator, model="qwen-72b")
    response = model.chat_with_tools(TOOLS, user_msg="北京 get_weather get_time", allow_parallel_tool_calls=True)
    calls = model.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs, c.tool_id) for c in calls] == [
        ("get_weather", {"city": "北京"}, "call_0"), ("get_time", {"city": "北京"}, "call_1")]
    body = emulator.requests[-1].json
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"] and body["tool_choice"] == "auto"
    single = model.chat_with_tools(TOOLS, user_msg="北京 get_weather get_time", tool_required=True)
    assert len(model.get_tool_calls_from_response(single)) == 1
    assert emulator.requests[-1].json["tool_choice"] == "required"


def test_stream_chat_with_tools_assembles_calls(emulator):
    emulator.state.tool_deltas = "hermes"
    model = llm(emulator, model="qwen-72b")
    last = None
    for last in model.stream_chat_with_tools(TOOLS, user_msg="北京 get_weather get_time", allow_parallel_tool_calls=True):
        pass
    calls = model.get_tool_calls_from_response(last)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "北京"}), ("get_time", {"city": "北京"})]


def _function_agent(model):
    from llama_index.core.agent.workflow import FunctionAgent

    return FunctionAgent(tools=TOOLS, llm=model, system_prompt="你是助手")


async def _run_function_agent(model, emulator):
    from llama_index.core.agent.workflow import AgentStream

    handler = _function_agent(model).run(user_msg="北京 get_weather 和 get_time？")
    deltas, thinking = [], []
    async for event in handler.stream_events():
        if isinstance(event, AgentStream):
            deltas.append(event.delta)
            thinking.append(event.thinking_delta or "")
    result = await handler
    assert str(result) == "根据工具结果：北京：晴，25°C；北京：14:30"
    assert "".join(deltas) == str(result)
    second = emulator.requests[-1].json["messages"]
    assistant = next(m for m in second if m["role"] == "assistant")
    tool_turns = [m for m in second if m["role"] == "tool"]
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["get_weather", "get_time"]
    assert [m["tool_call_id"] for m in tool_turns] == [c["id"] for c in assistant["tool_calls"]]
    assert [m["content"] for m in tool_turns] == ["北京：晴，25°C", "北京：14:30"]
    return "".join(thinking)


def test_function_agent_two_tools_sync_use(emulator):
    thinking = asyncio.run(_run_function_agent(llm(emulator, model="qwen-72b"), emulator))
    assert thinking == ""


async def test_function_agent_two_tools_async_with_reasoning(emulator):
    thinking = await _run_function_agent(llm(emulator, model="deepseek-r1"), emulator)
    assert thinking.startswith("用户问的是")  # AgentStream.thinking_delta carried the reasoning


async def test_react_agent(emulator):
    from llama_index.core.agent.workflow import ReActAgent

    emulator.script([
        Reply(text='Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "北京"}'),
        Reply(text="Thought: I can answer without using any more tools.\nAnswer: 北京今天晴。"),
    ])
    agent = ReActAgent(tools=TOOLS, llm=llm(emulator, model="qwen-72b"))
    result = await agent.run(user_msg="北京天气？")
    assert str(result) == "北京今天晴。"
    assert "北京：晴，25°C" in str(emulator.requests[-1].json["messages"])


class City(BaseModel):
    name: str
    population_millions: float


def test_structured_predict_and_as_structured_llm(emulator):
    from llama_index.core.prompts import PromptTemplate

    call = Reply(tool_calls=[ScriptedToolCall("City", {"name": "北京", "population_millions": 21.9}, "c1")])
    emulator.script([call, call])
    model = llm(emulator, model="qwen-72b")
    city = model.structured_predict(City, PromptTemplate("关于{topic}的数据"), topic="北京")
    assert city == City(name="北京", population_millions=21.9)
    assert emulator.requests[-1].json["tools"][0]["function"]["name"] == "City"
    structured = model.as_structured_llm(City)
    response = structured.chat(user("北京"))
    assert response.raw == City(name="北京", population_millions=21.9)


def test_query_engine_streams_an_answer_over_local_documents(emulator):
    from llama_index.core import Document, Settings, SummaryIndex

    Settings.llm = llm(emulator, model="qwen-72b")
    try:
        index = SummaryIndex.from_documents([Document(text="长江全长6300多公里。"), Document(text="鲥鱼是长江特有的鱼类。")])
        response = index.as_query_engine(streaming=True).query("长江有多长？")
        tokens = list(response.response_gen)
    finally:
        Settings.llm = None
    assert len(tokens) > 3 and "".join(tokens) == "根据资料：长江全长6300多公里。"
    prompt = str(emulator.requests[-1].json["messages"])
    assert "长江全长6300多公里" in prompt and "长江有多长？" in prompt


def test_from_curl(emulator):
    from .helpers import fixture_text

    curl = fixture_text("seed000_ias_curl.txt").replace("http://xxx.xxx.xxx.xxx:18063", emulator.url)
    emulator.state.api_key = "4f2d383beb34439694efa18adf908b9d"
    model = DomesticLLM.from_curl(curl)
    assert (model.client.dialect.name, model.model, model.temperature) == ("ias", "Qwen-NLP-72B", 0.95)
    assert model.complete("你好").text


def test_environment_configuration(monkeypatch, emulator):
    monkeypatch.setenv("DOMESTIC_LLM_BASE_URL", emulator.base_url)
    monkeypatch.setenv("DOMESTIC_LLM_MODEL", "qwen-72b")
    monkeypatch.setenv("DOMESTIC_LLM_API_KEY", "env-key")
    emulator.state.api_key = "env-key"
    model = DomesticLLM()
    assert model.model == "qwen-72b" and model.complete(Q).text == f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"


