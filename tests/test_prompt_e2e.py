"""Prompt-style servers end to end over loopback sockets: ChatDomestic, DomesticLLM and ChatClient
against the emulator's TGI, vLLM demo and Triton routes; model discovery; leaked markers."""

from __future__ import annotations

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from domestic_llm.client import ChatClient
from domestic_llm.dialects.triton import TritonDialect
from domestic_llm.errors import NotFoundError
from domestic_llm.testing import Reply
from domestic_llm.testing.replies import pieces
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

from .helpers import aggregate, fixture_text

# what ChatML makes of the conversation below, written out by hand
EXPECTED_PROMPT = (
    "<|im_start|>system\n你是一个有用的助手.<|im_end|>\n"
    "<|im_start|>user\n你好，我叫李聪明。请问你是谁？<|im_end|>\n"
    "<|im_start|>assistant\n你好，李聪明！很高兴认识你。<|im_end|>\n"
    "<|im_start|>user\n请问我叫什么名字？<|im_end|>\n"
    "<|im_start|>assistant\n"
)
ANSWER = "你好！关于“请问我叫什么名字？”：这是 domestic-llm 模拟器的回答。"
LC_CONVERSATION = [SystemMessage("你是一个有用的助手."), HumanMessage("你好，我叫李聪明。请问你是谁？"),
                   AIMessage("你好，李聪明！很高兴认识你。"), HumanMessage("请问我叫什么名字？")]
LI_CONVERSATION = [ChatMessage(role=MessageRole.SYSTEM, content="你是一个有用的助手."),
                   ChatMessage(role=MessageRole.USER, content="你好，我叫李聪明。请问你是谁？"),
                   ChatMessage(role=MessageRole.ASSISTANT, content="你好，李聪明！很高兴认识你。"),
                   ChatMessage(role=MessageRole.USER, content="请问我叫什么名字？")]
DIALECTS = ["tgi", "vllm_generate", "triton"]
PROMPT_FIELD = {"tgi": "inputs", "vllm_generate": "prompt", "triton": "text_input"}
MARKERS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "\nuser\n")


def root(emulator, dialect: str) -> str:
    return emulator.url  # one box serves all three, as in seed 003 (TGI and vLLM's demo share /generate)


def sent_prompt(emulator, dialect: str) -> str:
    return emulator.requests[-1].json[PROMPT_FIELD[dialect]]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_chat_domestic_conversation(emulator, dialect):
    llm = ChatDomestic(dialect=dialect, model="qwen1.5-14b", base_url=root(emulator, dialect))
    msg = llm.invoke(LC_CONVERSATION)
    assert msg.content == ANSWER
    assert sent_prompt(emulator, dialect) == EXPECTED_PROMPT
    chunks = list(llm.stream(LC_CONVERSATION))
    assert aggregate(chunks).content == ANSWER and len(chunks) > 3
    assert sent_prompt(emulator, dialect) == EXPECTED_PROMPT
    if dialect == "tgi":
        assert emulator.requests[-1].path == "/generate_stream"
        assert msg.response_metadata["finish_reason"] == "stop" and msg.usage_metadata["output_tokens"] == len(pieces(ANSWER)) + 1  # + the end-of-turn token
    if dialect == "triton":
        assert emulator.requests[-1].path == "/v2/models/qwen1.5-14b/generate_stream"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_chat_domestic_async(emulator, dialect):
    llm = ChatDomestic(dialect=dialect, model="qwen1.5-14b", base_url=root(emulator, dialect))
    assert (await llm.ainvoke(LC_CONVERSATION)).content == ANSWER
    assert aggregate([c async for c in llm.astream(LC_CONVERSATION)]).content == ANSWER
    assert sent_prompt(emulator, dialect) == EXPECTED_PROMPT


@pytest.mark.parametrize("dialect", DIALECTS)
def test_domestic_llm_conversation_and_complete(emulator, dialect):
    llm = DomesticLLM(dialect=dialect, model="qwen1.5-14b", base_url=root(emulator, dialect))
    assert llm.metadata.is_function_calling_model is False  # no tool channel on a prompt route
    assert llm.chat(LI_CONVERSATION).message.content == ANSWER
    assert sent_prompt(emulator, dialect) == EXPECTED_PROMPT
    streamed = list(llm.stream_chat(LI_CONVERSATION))
    assert streamed[-1].message.content == ANSWER
    assert sent_prompt(emulator, dialect) == EXPECTED_PROMPT
    # complete sends the prompt as written, without a chat template
    completion = llm.complete("保持健康的方法")
    assert sent_prompt(emulator, dialect) == "保持健康的方法"
    assert completion.text == "你好！关于“保持健康的方法”：这是 domestic-llm 模拟器的回答。"
    assert list(llm.stream_complete("保持健康的方法"))[-1].text == completion.text
    assert sent_prompt(emulator, dialect) == "保持健康的方法"


async def test_domestic_llm_async_complete(emulator):
    llm = DomesticLLM(dialect="tgi", model="qwen1.5-14b", base_url=emulator.url)
    assert (await llm.acomplete("保持健康的方法")).text.startswith("你好！关于“保持健康的方法”")
    assert emulator.requests[-1].json["inputs"] == "保持健康的方法"
    assert (await llm.achat(LI_CONVERSATION)).message.content == ANSWER


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stream", [False, True])
def test_leaked_markers_never_reach_the_user(emulator, dialect, stream):
    emulator.state.chunk_bytes = 1  # every byte its own write
    emulator.state.vllm_separator = "\0"
    emulator.state.triton_stream = "cumulative"
    emulator.script([Reply(text="你叫李聪明。<|im_end|>\n<|im_start|>user\n好的，谢谢", finish_reason="length")])
    client = ChatClient(dialect=dialect, model="qwen1.5-14b", base_url=root(emulator, dialect))
    text = "".join(c.text for c in client.stream("请问我叫什么名字？")) if stream else client.invoke(
        "请问我叫什么名字？").text
    assert text == "你叫李聪明。"
    assert not any(m in text for m in MARKERS)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_user_stop_sequence(emulator, dialect):
    llm = ChatDomestic(dialect=dialect, model="qwen1.5-14b", base_url=root(emulator, dialect), stop=["模拟器"])
    assert llm.invoke("你好").content == "你好！关于“你好”：这是 domestic-llm "
    chunks = list(llm.stream("你好"))
    assert aggregate(chunks).content == "你好！关于“你好”：这是 domestic-llm "
    # TGI says why it stopped; vLLM's demo and Triton say nothing, and nothing is made up
    assert chunks[-1].response_metadata["finish_reason"] == ("stop" if dialect == "tgi" else None)


def test_full_routes_as_endpoint(emulator):
    tgi = ChatClient(model="qwen1.5-14b", endpoint=emulator.url + "/generate_stream")
    assert tgi.dialect.name == "tgi" and tgi.invoke("你好").text
    assert emulator.requests[-1].path == "/generate"
    triton = ChatClient(model="qwen1.5-14b", endpoint=emulator.url + "/v2/models/ensemble/generate")
    assert triton.dialect.name == "triton" and "".join(c.text for c in triton.stream("你好"))
    assert emulator.requests[-1].path == "/v2/models/ensemble/generate_stream"
    vllm = ChatClient(model="qwen1.5-14b", endpoint=emulator.url + "/vllm/generate", dialect="vllm_generate")
    assert len(vllm.invoke("你好", n=3).choices) == 3  # a mount prefix in front of the route
    assert emulator.requests[-1].path == "/vllm/generate"


def test_configured_dialect_instance_and_template(emulator):
    emulator.state.triton_stream = "cumulative"
    emulator.state.triton_echo = False
    llm = ChatDomestic(dialect=TritonDialect(stream_output="cumulative"), model="ensemble", base_url=emulator.url,
                       chat_template="llama3")
    assert aggregate(list(llm.stream("你好"))).content == "你好！关于“你好”：这是 domestic-llm 模拟器的回答。"
    assert emulator.requests[-1].json["text_input"] == (
        "<|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    with pytest.raises(ValueError, match="cannot infer the chat template of model='ensemble'"):
        ChatDomestic(dialect="triton", model="ensemble", base_url=emulator.url)


def test_from_curl_seed_tgi(emulator):
    llm = ChatDomestic.from_curl(fixture_text("seed003_tgi_curl.txt"), model="qwen1.5-14b",
                                 endpoint=emulator.url + "/generate")
    assert llm.invoke("如何才能拥有性感的身材?").content
    params = emulator.requests[-1].json["parameters"]
    assert params["max_new_tokens"] == 256 and params["top_k"] == 10 and params["top_n_tokens"] == 5


def test_emulator_rejects_a_wrong_rendering(emulator):
    bad = "<|im_start|>user\n你好<|im_end|>\n"  # no generation prompt: the model would continue the user's turn
    resp = httpx.post(emulator.url + "/generate", json={"inputs": bad, "parameters": {}})
    assert resp.status_code == 422 and "assistant" in resp.json()["error"]
    resp = httpx.post(emulator.url + "/generate", json={"inputs": "x", "parameters": {"temperature": 0}})
    assert resp.status_code == 422 and "temperature" in resp.json()["error"]


def test_openai_route_trims_trailing_role_leaks(emulator):
    emulator.script([Reply(text="\n你叫李聪明。这是我根据之前的对话信息得知的。\nuser\n")] * 2)
    llm = ChatDomestic(model="qwen1.5-14b", base_url=emulator.base_url)
    assert llm.invoke("请问我叫什么名字？").content == "\n你叫李聪明。这是我根据之前的对话信息得知的。"
    assert aggregate(list(llm.stream("请问我叫什么名字？"))).content == "\n你叫李聪明。这是我根据之前的对话信息得知的。"
    emulator.script([Reply(text="答案\nuser\n"), Reply(text="Please ask the user\nfor details.")])
    raw = ChatDomestic(model="qwen1.5-14b", base_url=emulator.base_url, trim_role_leaks=False)
    assert raw.invoke("x").content == "答案\nuser\n"
    assert llm.invoke("x").content == "Please ask the user\nfor details."  # the word alone is untouched


def test_list_models(emulator):
    emulator.state.served_models = ["qwen1.5-14b", "baichuan2-7b"]
    assert ChatClient(model="qwen1.5-14b", base_url=emulator.base_url).list_models() == ["qwen1.5-14b",
                                                                                       "baichuan2-7b"]
    assert ChatDomestic(model="x", base_url=emulator.base_url).list_models() == ["qwen1.5-14b", "baichuan2-7b"]
    assert DomesticLLM(model="x", base_url=emulator.base_url).list_models() == ["qwen1.5-14b", "baichuan2-7b"]
    assert ChatDomestic(dialect="tgi", model="qwen1.5-14b", base_url=emulator.url).list_models() == ["qwen1.5-14b"]
    assert ChatDomestic(dialect="triton", model="qwen1.5-14b", base_url=emulator.url).list_models() == [
        "qwen1.5-14b", "baichuan2-7b"]


async def test_list_models_async(emulator):
    emulator.state.served_models = ["qwen1.5-14b"]
    assert await DomesticLLM(model="x", base_url=emulator.base_url).alist_models() == ["qwen1.5-14b"]


def test_model_not_found_lists_served_models(emulator):
    emulator.state.served_models = ["qwen1.5-14b", "baichuan2-7b"]
    llm = ChatClient(model="qwen-72b", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(NotFoundError) as info:
        llm.invoke("你好")
    assert "The model `qwen-72b` does not exist" in str(info.value)
    assert "the server serves: qwen1.5-14b, baichuan2-7b" in str(info.value)
    assert info.value.served_models == ["qwen1.5-14b", "baichuan2-7b"]


async def test_model_not_found_lists_served_models_async(emulator):
    emulator.state.served_models = ["qwen1.5-14b"]
    with pytest.raises(NotFoundError, match="the server serves: qwen1.5-14b"):
        await ChatClient(model="qwen-72b", base_url=emulator.base_url).ainvoke("你好")


def test_tgi_structured_output_through_its_json_grammar(emulator):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    llm = ChatDomestic(dialect="tgi", model="qwen1.5-14b", base_url=emulator.url)
    city = llm.with_structured_output(City, method="json_schema").invoke("北京 有 21893095 人")
    assert city == City(name="北京", population=21893095)
    grammar = emulator.requests[-1].json["parameters"]["grammar"]
    assert grammar["type"] == "json" and grammar["value"]["properties"]["population"]["type"] == "integer"
    with pytest.raises(ValueError, match="tools: the 'tgi' dialect cannot carry tool definitions"):
        llm.bind_tools([City])
