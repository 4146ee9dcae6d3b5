"""Model families: the thinking switch per family, budgets, implicit <think>, answer-as-reasoning, send-back.

End to end over loopback sockets against the emulator, whose `behaviour` imitates the
servers' quirks (it reads the switch only from the field the model's family uses).
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from domestic_llm import ChatClient
from domestic_llm.callplan import FamilyOptions, plan_request
from domestic_llm.dialects import get_dialect
from domestic_llm.dialects.base import ParseOptions
from domestic_llm.families import FAMILIES, Family, family_for, register_family, select_reasoning
from domestic_llm.fixups import AnswerFixes, fix_result
from domestic_llm.testing import Reply
from domestic_llm.testing.replies import pieces
from domestic_llm.types import ChatRequest, ChatResult, Choice, Message, ToolCall
from langchain_domestic_llm import BadRequestError, ChatDomestic, ConfigurationError
from llamaindex_domestic_llm import DomesticLLM

from .helpers import aggregate

Q = "你好"
ANSWER = f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"
THINKING_FIELDS = ("chat_template_kwargs", "thinking", "enable_thinking")

# family -> (a model name of that family, the exact body fields thinking=False produces;
#            None: the family has no off switch, so thinking=False is an error before any request)
OFF_SWITCH = {
    "deepseek-r1": ("DeepSeek-R1-Distill-Qwen-32B", None),
    "qwen3-thinking": ("Qwen3-235B-A22B-Thinking-2507", None),
    "qwen3-instruct": ("Qwen3-30B-A3B-Instruct-2507", {}),
    "qwen3": ("Qwen3-32B", {"chat_template_kwargs": {"enable_thinking": False}}),
    "qwq": ("QwQ-32B", None),
    "qwen-dashscope": ("qwen-plus", {"enable_thinking": False}),
    "deepseek-v3.1": ("DeepSeek-V3.1-Terminus", {"chat_template_kwargs": {"thinking": False}}),
    "deepseek-v3.2": ("deepseek-v3.2-exp", {"chat_template_kwargs": {"thinking": False}}),
    "deepseek-v4": ("deepseek-v4", {"thinking": {"type": "disabled"}}),
    "glm": ("GLM-4.6", {"thinking": {"type": "disabled"}}),
    "kimi-k2-thinking": ("Kimi-K2-Thinking", None),
    "kimi-k2.5": ("kimi-k2.5", {"thinking": {"type": "disabled"}}),
    "kimi-k2": ("Kimi-K2-Instruct-0905", {}),
    "seed-oss": ("Seed-OSS-36B-Instruct", {"chat_template_kwargs": {"thinking_budget": 0}}),
    "gpt-oss": ("gpt-oss-120b", None),
}


def chat(emulator, model, **kw) -> ChatDomestic:
    return ChatDomestic(model=model, base_url=emulator.base_url, **kw)


def test_every_family_has_a_switch_row_and_its_model_name_resolves_to_it():
    assert set(OFF_SWITCH) == {f.name for f in FAMILIES}
    for name, (model, _) in OFF_SWITCH.items():
        assert family_for(model).name == name, model


@pytest.mark.parametrize("family", sorted(OFF_SWITCH))
@pytest.mark.parametrize("streaming", [False, True])
def test_thinking_false_sends_the_familys_field_and_the_reply_is_handled(emulator, family, streaming):
    model, fields = OFF_SWITCH[family]
    emulator.state.behaviour.answer_in_reasoning = True  # the reasoning parser files a plain answer as reasoning
    llm = chat(emulator, model, thinking=False, streaming=streaming)
    if fields is None:
        with pytest.raises(ConfigurationError, match="has no off switch") as err:
            llm.invoke(Q)
        assert family in str(err.value) and "thinking_style" in str(err.value)
        assert emulator.requests == []  # raised before anything was sent
        return
    msg = llm.invoke(Q)
    body = emulator.requests[-1].json
    assert {k: body[k] for k in THINKING_FIELDS if k in body} == fields
    assert msg.content == ANSWER  # not left in reasoning_content with an empty answer
    assert "reasoning_content" not in msg.additional_kwargs
    assert msg.usage_metadata["output_tokens"] == len(pieces(ANSWER))


def test_a_switch_in_the_wrong_field_is_ignored_by_the_server(emulator):
    # what users hit before: a DashScope-style gateway ignores the Qwen3-on-vLLM kwarg and does not think
    wrong = chat(emulator, "qwen-plus", thinking=True, thinking_style="chat_template_kwargs.enable_thinking")
    assert not wrong.invoke(Q).additional_kwargs.get("reasoning_content")
    right = chat(emulator, "qwen-plus", thinking=True).invoke(Q)
    assert right.content == ANSWER and right.additional_kwargs["reasoning_content"].startswith("用户问的是")


def test_thinking_true_per_family(emulator):
    msg = chat(emulator, "deepseek-v3.1", thinking=True).invoke(Q)
    assert emulator.requests[-1].json["chat_template_kwargs"] == {"thinking": True}
    assert msg.additional_kwargs["reasoning_content"].startswith("用户问的是") and msg.content == ANSWER
    chat(emulator, "deepseek-r1", thinking=True).invoke(Q)  # always thinks: nothing to send
    assert not any(k in emulator.requests[-1].json for k in THINKING_FIELDS)
    with pytest.raises(ConfigurationError, match="cannot think"):
        chat(emulator, "Qwen3-30B-A3B-Instruct-2507", thinking=True).invoke(Q)


def test_unknown_family_is_a_clear_error_naming_the_styles(emulator):
    with pytest.raises(ConfigurationError) as err:
        chat(emulator, "my-private-model", thinking=False).invoke(Q)
    text = str(err.value)
    assert "my-private-model" in text and "thinking_style=" in text and "model_family=" in text
    for style in ("chat_template_kwargs.enable_thinking", "chat_template_kwargs.thinking", "thinking.type",
                  "enable_thinking"):
        assert style in text
    assert emulator.requests == []


def test_overrides_per_instance(emulator):
    chat(emulator, "my-private-model", thinking=False, thinking_style="thinking.type").invoke(Q)
    assert emulator.requests[-1].json["thinking"] == {"type": "disabled"}
    chat(emulator, "my-private-model", thinking=False, model_family="qwen3").invoke(Q)
    assert emulator.requests[-1].json["chat_template_kwargs"] == {"enable_thinking": False}
    # the caller's own model_kwargs win over the table, merged one level deep
    chat(emulator, "Qwen3-8B", thinking=False, model_kwargs={"chat_template_kwargs": {"x": 1}}).invoke(Q)
    assert emulator.requests[-1].json["chat_template_kwargs"] == {"enable_thinking": False, "x": 1}
    for bad in ({"thinking_style": "nope"}, {"model_family": "nope"}, {"reasoning_field": "nope"}):
        with pytest.raises((ConfigurationError, ValueError), match="nope"):
            chat(emulator, "m", **bad)


def test_a_gateway_without_a_switch_rejects_thinking(emulator):
    llm = ChatDomestic(model="deepseek-r1", endpoint=emulator.endpoint("lm_v2"), thinking=True)
    with pytest.raises(ConfigurationError, match="thinking_style='none'"):
        llm.invoke(Q)


def test_register_family_extends_the_table():
    family = Family("acme", r"acme-reasoner", "enable_thinking")
    register_family(family)
    try:
        assert family_for("ACME-Reasoner-7B") is family
    finally:
        FAMILIES.remove(family)


# ---- implicit <think> and answer-as-reasoning --------------------------------------------------


@pytest.mark.parametrize("model", ["deepseek-r1-distill-qwen-32b", "QwQ-32B"])
def test_implicit_think_is_split_without_a_manual_setting(emulator, model):
    emulator.state.behaviour.inline_think = True  # no reasoning parser; the template opened <think>
    emulator.state.chunk_bytes = 2
    reasoning = "用户问的是“你好”。先想清楚要点，再简洁作答。"
    invoked = chat(emulator, model).invoke(Q)
    assert "<think>" not in emulator.requests[-1].json.get("messages")[0]["content"]
    chunks = list(chat(emulator, model).stream(Q))
    streamed = aggregate(chunks)
    for msg in (invoked, streamed):
        assert msg.content == ANSWER
        assert msg.additional_kwargs["reasoning_content"].strip() == reasoning
    assert all("</think>" not in c.content and reasoning[:4] not in c.content for c in chunks)
    # the override still wins: told the template does not open <think>, a stream cannot take text back
    old = aggregate(chat(emulator, model, think_starts_open=False).stream(Q))
    assert old.content.startswith(reasoning) and old.response_metadata.get("orphan_think_close")


@pytest.mark.parametrize("thinking", [True, False])
def test_deepseek_v31_opens_think_only_when_thinking(emulator, thinking):
    emulator.state.behaviour.inline_think = True
    emulator.state.chunk_bytes = 3
    streamed = aggregate(chat(emulator, "DeepSeek-V3.1", thinking=thinking).stream(Q))
    assert emulator.requests[-1].json["chat_template_kwargs"] == {"thinking": thinking}
    assert streamed.content == ANSWER
    assert bool(streamed.additional_kwargs.get("reasoning_content")) is thinking


def test_implicit_think_family_behind_a_reasoning_parser_keeps_its_answer(emulator):
    streamed = aggregate(chat(emulator, "deepseek-r1").stream(Q))  # reasoning_content from the parser
    assert streamed.content == ANSWER and streamed.additional_kwargs["reasoning_content"].startswith("用户问的是")


def test_explicit_think_tag_is_accepted_for_an_implicit_family(emulator):
    emulator.script([Reply(text="<think>\n想一想\n</think>\n\n答")] * 2)
    for msg in (chat(emulator, "deepseek-r1").invoke(Q), aggregate(chat(emulator, "deepseek-r1").stream(Q))):
        assert (msg.content, msg.additional_kwargs["reasoning_content"].strip()) == ("答", "想一想")


def test_answer_filed_as_reasoning_fixup_unit():
    result = ChatResult([Choice(0, "", "\n\n答案")])
    assert (fix_result(result, AnswerFixes(reasoning_is_answer=True)).text, result.reasoning) == ("答案", "")


# ---- reasoning sent back -------------------------------------------------------------------------


def _history():
    call = {"name": "get_weather", "args": {"city": "北京"}, "id": "c2"}
    return [
        HumanMessage("第一问"),
        AIMessage("第一答", additional_kwargs={"reasoning_content": "旧推理"}),
        HumanMessage("北京天气 get_weather"),
        AIMessage(content=[{"type": "reasoning", "reasoning": "要查天气"}], tool_calls=[call]),
        ToolMessage("晴", tool_call_id="c2"),
    ]


def _sent_reasoning(emulator, key="reasoning_content"):
    return [m.get(key) for m in emulator.requests[-1].json["messages"] if m["role"] == "assistant"]


@pytest.mark.parametrize(("mode", "expected"), [("tool_turns", [None, "要查天气"]), ("all", ["旧推理", "要查天气"]),
                                                ("never", [None, None]), (True, ["旧推理", "要查天气"]),
                                                (False, [None, None])])
def test_send_reasoning_rules(emulator, mode, expected):
    chat(emulator, "qwen-72b", send_reasoning=mode).invoke(_history())
    assert _sent_reasoning(emulator) == expected


@pytest.mark.parametrize(("model", "key", "expected"), [
    ("deepseek-v3.2", "reasoning_content", [None, "要查天气"]),  # tool_turns by default
    ("Kimi-K2-Thinking", "reasoning_content", [None, "要查天气"]),
    ("Qwen3-32B", "reasoning_content", [None, None]),  # its template drops it: never sent
    ("deepseek-r1", "reasoning_content", [None, None]),
    ("gpt-oss-20b", "reasoning", [None, "要查天气"]),  # a family whose server reads `reasoning`
])
def test_send_reasoning_default_and_field_per_family(emulator, model, key, expected):
    chat(emulator, model).invoke(_history())
    assert _sent_reasoning(emulator, key) == expected
    other = "reasoning" if key == "reasoning_content" else "reasoning_content"
    assert _sent_reasoning(emulator, other) == [None, None]


def test_server_demanding_reasoning_back(emulator):
    emulator.state.behaviour.require_reasoning_back = "reasoning_content"
    with pytest.raises(BadRequestError, match="Missing `reasoning_content`") as err:
        chat(emulator, "deepseek-v4", send_reasoning="never").invoke(_history())
    assert err.value.status == 400
    assert chat(emulator, "deepseek-v4").invoke(_history()).content == "根据工具结果：晴"


def test_llamaindex_thinking_blocks_are_sent_back_by_rule(emulator):
    from llama_index.core.base.llms.types import ChatMessage, TextBlock, ThinkingBlock, ToolCallBlock

    emulator.state.behaviour.require_reasoning_back = "reasoning_content"
    history = [
        ChatMessage(role="user", content="北京天气 get_weather"),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="要查天气"), TextBlock(text=""),
                                              ToolCallBlock(tool_call_id="c1", tool_name="get_weather",
                                                            tool_kwargs={"city": "北京"})]),
        ChatMessage(role="tool", content="晴", additional_kwargs={"tool_call_id": "c1"}),
    ]
    answer = DomesticLLM(model="deepseek-v3.2", base_url=emulator.base_url).chat(history)
    assert str(answer.message.content) == "根据工具结果：晴"
    assert _sent_reasoning(emulator) == ["要查天气"]


def test_select_reasoning_only_after_the_last_user_message():
    msgs = [Message("user", "a"), Message("assistant", "", [], reasoning="r1", tool_calls=[ToolCall("1", "f", "{}")]),
            Message("tool", "x", tool_call_id="1"), Message("user", "b"),
            Message("assistant", "", reasoning="r2", tool_calls=[ToolCall("2", "f", "{}")]),
            Message("tool", "y", tool_call_id="2")]
    assert select_reasoning(msgs, "tool_turns") == [False, False, False, False, True, False]


def test_plan_does_not_touch_the_callers_messages():
    original = Message("assistant", "a", reasoning="r")
    request = ChatRequest("qwen-72b", [Message("user", "q"), original, Message("user", "q2")], send_reasoning="never")
    plan_request(request, get_dialect("openai"), FamilyOptions(), ParseOptions())
    assert original.reasoning == "r" and request.messages[1].reasoning is None and request.send_reasoning is False


# ---- thinking budget -----------------------------------------------------------------------------

LONG = Reply(text="本来会说的答案", reasoning="想" * 3000)  # 1,000 tokens of thinking in the emulator's count
AFTER = f"关于“{Q}”：这是思考后的回答。"


def _check_budget(emulator, msg, budget=64):
    first, second = (r.json for r in emulator.requests[-2:])
    assert first["max_tokens"] == budget and "continue_final_message" not in first
    assert second["continue_final_message"] is True and second["add_generation_prompt"] is False
    prefix = second["messages"][-1]
    assert prefix["role"] == "assistant" and prefix["content"].endswith("</think>\n\n")
    assert prefix["content"].startswith("<think>\n" + "想" * 10) and "max_tokens" not in second
    reasoning = msg.additional_kwargs["reasoning_content"]
    assert reasoning == "想" * (3 * budget)  # the server cut it at exactly `budget` tokens
    assert msg.content == AFTER  # the model's own answer after its closed reasoning
    u = msg.usage_metadata
    assert u["output_tokens"] == budget + len(pieces(AFTER))  # both requests, added up
    assert u["input_tokens"] == len(Q) + len(Q) + len(prefix["content"])
    assert u["output_token_details"]["reasoning"] == budget
    assert msg.response_metadata["thinking_budget_continued"] is True


@pytest.mark.parametrize("streaming", [False, True])
def test_client_enforced_thinking_budget(emulator, streaming):
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    llm = chat(emulator, "deepseek-r1", thinking_budget=64)
    msg = aggregate(list(llm.stream(Q))) if streaming else llm.invoke(Q)
    _check_budget(emulator, msg)


async def test_client_enforced_thinking_budget_async_and_parser_filing_the_answer_as_reasoning(emulator):
    emulator.state.behaviour.answer_in_reasoning = True  # vLLM's parser never sees </think> in the continuation
    llm = chat(emulator, "deepseek-r1", thinking_budget=64)
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    _check_budget(emulator, await llm.ainvoke(Q))
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    chunks = [c async for c in llm.astream(Q)]
    _check_budget(emulator, aggregate(chunks))


def test_budget_not_reached_is_one_request_and_callers_max_tokens_is_kept(emulator):
    msg = chat(emulator, "deepseek-r1", thinking_budget=500).invoke(Q)
    assert len(emulator.requests) == 1 and msg.content == ANSWER and emulator.requests[0].json["max_tokens"] == 500
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    msg = chat(emulator, "deepseek-r1", thinking_budget=64, max_tokens=100).invoke(Q)
    assert emulator.requests[-1].json["max_tokens"] == 100 - 64  # the caller's limit bounds both requests
    assert msg.usage_metadata["output_tokens"] <= 100


@pytest.mark.parametrize("streaming", [False, True])
def test_a_server_without_continuation_gives_a_clear_error(emulator, streaming):
    emulator.state.behaviour.continuation = False
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    llm = chat(emulator, "deepseek-r1", thinking_budget=64)
    with pytest.raises(BadRequestError, match="thinking_budget: the server refused the continuation") as err:
        list(llm.stream(Q)) if streaming else llm.invoke(Q)
    assert err.value.status == 400 and "continue_final_message" in err.value.server_message


def test_native_thinking_budget(emulator):
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    msg = chat(emulator, "qwen-plus", thinking_budget=64).invoke(Q)
    assert len(emulator.requests) == 1
    body = emulator.requests[0].json
    assert body["enable_thinking"] is True and body["thinking_budget"] == 64 and "max_tokens" not in body
    assert msg.additional_kwargs["reasoning_content"] == "想" * 192 and msg.content == LONG.text
    chat(emulator, "Seed-OSS-36B-Instruct", thinking_budget=32).invoke(Q)
    assert emulator.requests[-1].json["chat_template_kwargs"] == {"thinking_budget": 32}


def test_llamaindex_budget_streamed(emulator):
    from llama_index.core.base.llms.types import ChatMessage

    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    llm = DomesticLLM(model="deepseek-r1", base_url=emulator.base_url, thinking_budget=64)
    last = None
    for last in llm.stream_chat([ChatMessage(role="user", content=Q)]):
        pass
    assert str(last.message.content) == AFTER
    assert last.message.blocks[0].content == "想" * 192


def test_budget_errors_before_any_request(emulator):
    for kw, match in (({"thinking_budget": 0}, "thinking_budget=0"),
                      ({"thinking_budget": 64, "thinking": False}, "no thinking to bound"),
                      ({"thinking_budget": 64, "n": 2}, "n=2")):
        with pytest.raises(ConfigurationError, match=match):
            chat(emulator, "Qwen3-8B", **kw).invoke(Q)
    gateway = ChatDomestic(model="deepseek-r1", endpoint=emulator.endpoint("lm_v2"), thinking_budget=64,
                           thinking_style="always")
    with pytest.raises(ConfigurationError, match="'lm_v2' dialect has no native thinking budget"):
        gateway.invoke(Q)
    assert emulator.requests == []


def test_core_client_budget_streams_like_invoke(emulator):
    client = ChatClient(model="deepseek-r1", base_url=emulator.base_url)
    req = lambda: ChatRequest("deepseek-r1", [Message("user", Q)], thinking_budget=64)  # noqa: E731
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    invoked = client.invoke(req())
    emulator.state.behaviour.cut_at_max_tokens = True
    emulator.script([LONG])
    chunks = list(client.stream(req()))
    assert "".join(c.text for c in chunks) == invoked.text == AFTER
    assert "".join(c.reasoning for c in chunks) == invoked.reasoning
    assert chunks[-1].usage == invoked.usage and sum(c.final for c in chunks) == 1
    asyncio.run(client.aclose())
