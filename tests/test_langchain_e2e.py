"""ChatDomestic end to end over real loopback sockets against the emulator (openai dialect)."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from domestic_llm.testing.replies import pieces
from langchain_domestic_llm import APIConnectionError, AuthenticationError, ChatDomestic, ServerError

from .helpers import aggregate

Q = "介绍一下长江"
ANSWER = f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"
REASONING = f"用户问的是“{Q}”。先想清楚要点，再简洁作答。"


def llm(emulator, model="deepseek-r1-distill-qwen-32b", **kw) -> ChatDomestic:
    return ChatDomestic(model=model, base_url=emulator.base_url, **kw)


def expected_usage(messages_chars: int, reasoning: bool = True) -> dict:
    out = len(pieces(ANSWER)) + (len(pieces(REASONING)) if reasoning else 0)
    usage = {"input_tokens": messages_chars, "output_tokens": out, "total_tokens": messages_chars + out}
    if reasoning:
        usage["output_token_details"] = {"reasoning": len(pieces(REASONING))}
    return usage


def test_invoke_gives_text_reasoning_usage_and_metadata(emulator):
    msg = llm(emulator).invoke(Q)
    assert msg.content == ANSWER
    assert msg.additional_kwargs["reasoning_content"] == REASONING
    assert msg.content_blocks[0] == {"type": "reasoning", "reasoning": REASONING}
    assert msg.usage_metadata == expected_usage(len(Q))
    meta = msg.response_metadata
    assert meta["finish_reason"] == "stop" and meta["model_name"] == "deepseek-r1-distill-qwen-32b"
    assert meta["model_provider"] == "domestic_llm" and meta["id"].startswith("chatcmpl-emu-")
    assert meta["request_id"].startswith("emu-req-")


def test_stream_aggregates_to_invoke(emulator):
    emulator.state.chunk_bytes = 5  # writes cut mid-character
    model = llm(emulator)
    invoked = model.invoke(Q)
    chunks = list(model.stream(Q))
    assert len(chunks) > 10
    streamed = aggregate(chunks)
    assert streamed.content == invoked.content
    assert streamed.additional_kwargs["reasoning_content"] == invoked.additional_kwargs["reasoning_content"]
    assert streamed.usage_metadata == invoked.usage_metadata
    assert streamed.response_metadata["finish_reason"] == "stop"
    assert streamed.response_metadata["model_name"] == invoked.response_metadata["model_name"]
    # usage, finish_reason and model_name exactly once, on the last chunk
    assert [i for i, c in enumerate(chunks) if c.usage_metadata] == [len(chunks) - 1]
    assert [i for i, c in enumerate(chunks) if c.response_metadata.get("finish_reason")] == [len(chunks) - 1]
    assert chunks[-1].chunk_position == "last"


def test_first_token_arrives_before_the_stream_ends(emulator):
    from domestic_llm.testing import Reply

    emulator.state.delay = 0.05
    emulator.script([Reply(text="段" * 600)])  # 200 events 0.05 s apart: ten seconds of stream
    stream = llm(emulator, model="qwen-72b").stream(Q)
    first = next(c for c in stream if c.content)
    still_sending = emulator.state.in_flight  # an invariant, not a timing: the server is mid-stream
    stream.close()
    assert first.content == "段段段" and still_sending == 1  # not buffered: the rest was still on its way


async def test_astream_and_ainvoke(emulator):
    model = llm(emulator)
    chunks = [c async for c in model.astream(Q)]
    streamed = aggregate(chunks)
    invoked = await model.ainvoke(Q)
    assert streamed.content == invoked.content == ANSWER
    assert streamed.usage_metadata == invoked.usage_metadata == expected_usage(len(Q))


def test_chain_with_prompt_and_parser(emulator):
    chain = ChatPromptTemplate.from_messages([("system", "简洁"), ("user", "{q}")]) | llm(emulator) | StrOutputParser()
    assert chain.invoke({"q": Q}) == ANSWER
    sent = emulator.requests[-1].json["messages"]
    assert sent == [{"role": "system", "content": "简洁"}, {"role": "user", "content": Q}]


def test_batch_and_abatch_of_20_concurrent_calls(emulator):
    model = llm(emulator, model="qwen-72b")
    questions = [f"问题{i}" for i in range(20)]
    answers = model.batch(questions, config={"max_concurrency": 8})
    assert [a.content for a in answers] == [f"你好！关于“{q}”：这是 domestic-llm 模拟器的回答。" for q in questions]

    async def run():
        return await model.abatch(questions)

    answers = asyncio.run(run())
    assert [a.content for a in answers] == [f"你好！关于“{q}”：这是 domestic-llm 模拟器的回答。" for q in questions]
    assert len(emulator.requests) == 40


def test_sampling_params_model_kwargs_and_per_call_overrides_reach_the_server(emulator):
    model = llm(emulator, temperature=0.2, max_tokens=64, stop=["</s>"], seed=3, model_kwargs={"repetition_penalty": 1.1},
                thinking=False, thinking_style="chat_template_kwargs.enable_thinking")
    model.invoke([SystemMessage("s"), HumanMessage("h")], temperature=0.7, model="other")
    body = emulator.requests[-1].json
    assert body["temperature"] == 0.7 and body["max_tokens"] == 64 and body["stop"] == ["</s>"]
    assert body["seed"] == 3 and body["repetition_penalty"] == 1.1 and body["model"] == "other"
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "n" not in body


def test_n_greater_than_one_gives_several_generations(emulator):
    result = llm(emulator, model="qwen-72b", n=3).generate([[HumanMessage(Q)]])
    texts = [g.text for g in result.generations[0]]
    assert texts[0] == ANSWER and texts[1] == ANSWER + "（候选 2）" and len(texts) == 3


def test_streaming_flag_uses_the_stream_under_invoke(emulator):
    msg = llm(emulator, streaming=True).invoke(Q)
    assert msg.content == ANSWER and msg.usage_metadata == expected_usage(len(Q))
    assert emulator.requests[-1].json["stream"] is True


def test_api_key_is_sent_as_bearer_and_401_raises(emulator):
    emulator.state.api_key = "sk-right"
    assert llm(emulator, api_key="sk-right").invoke(Q).content == ANSWER
    with pytest.raises(AuthenticationError) as info:
        llm(emulator, api_key="sk-wrong", max_retries=0).invoke(Q)
    assert info.value.status == 401 and "invalid or missing credentials" in str(info.value)
    assert emulator.base_url in str(info.value) and "sk-wrong" not in str(info.value)


def test_500_raises_server_error_with_server_message(emulator):
    from domestic_llm.testing import Fault

    emulator.fault(Fault(status=500, times=1))
    with pytest.raises(ServerError) as info:
        llm(emulator, max_retries=0).invoke(Q)
    assert info.value.status == 500 and "emulated failure 500" in str(info.value)


def test_unreachable_endpoint_raises_connection_error():
    model = ChatDomestic(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(APIConnectionError, match="127.0.0.1:9"):
        model.invoke(Q)


def test_copies_and_pickles_work_and_pool_on_their_own(emulator):
    import copy
    import pickle

    from llamaindex_domestic_llm import DomesticLLM

    model = llm(emulator, model="qwen-72b", api_key="k")
    assert model.invoke(Q).content  # the original's pool is open now
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.client.transport is not model.client.transport
        assert clone.invoke(Q).content == model.invoke(Q).content
        assert clone.api_key.get_secret_value() == "k"
    li = DomesticLLM(model="qwen-72b", base_url=emulator.base_url)
    assert copy.deepcopy(li).complete(Q).text == li.complete(Q).text


def test_one_instance_across_event_loops_and_sync_async_mix(emulator):
    model = llm(emulator, model="qwen-72b")
    first = asyncio.run(model.ainvoke(Q))
    second = asyncio.run(model.ainvoke(Q))  # a new loop: the async pool of the old one must not be reused
    assert first.content == second.content == model.invoke(Q).content
    assert len(emulator.requests) == 3


@pytest.mark.parametrize("adapter", ["langchain", "llamaindex"])
def test_explicit_url_arguments_beat_the_environment(monkeypatch, emulator, adapter):
    from llamaindex_domestic_llm import DomesticLLM

    cls = ChatDomestic if adapter == "langchain" else DomesticLLM
    monkeypatch.setenv("DOMESTIC_LLM_ENDPOINT", "http://10.9.9.9:1/v1/chat/completions")
    assert cls(model="m", base_url=emulator.base_url).client.url == emulator.base_url + "/chat/completions"
    monkeypatch.delenv("DOMESTIC_LLM_ENDPOINT")
    monkeypatch.setenv("DOMESTIC_LLM_BASE_URL", "http://10.9.9.9:1/v1")
    assert cls(model="m", endpoint=emulator.endpoint("lm_v2")).client.dialect.name == "lm_v2"
    assert cls(model="m").client.url == "http://10.9.9.9:1/v1/chat/completions"  # env when nothing is given
