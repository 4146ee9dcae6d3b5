"""LangChain conventions: one message id per stream, streamed logprobs, file/audio blocks, config-driven use."""

from __future__ import annotations

import pytest
from langchain_core.load import dumpd, load
from langchain_core.messages import HumanMessage

from domestic_llm.testing.replies import pieces
from langchain_domestic_llm import ChatDomestic, ConfigurationError

from .helpers import aggregate

ANSWER = "你好！关于“hi”：这是 domestic-llm 模拟器的回答。"


@pytest.mark.parametrize("dialect", ["openai", "ias", "pangu_v2"])
def test_one_message_id_per_stream_the_servers(emulator, dialect):
    llm = ChatDomestic(model="deepseek-r1", endpoint=emulator.endpoint(dialect))
    chunks = list(llm.stream("hi"))
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and len(chunks) > 3
    (only,) = ids
    assert only.endswith(f"emu-{emulator.state.counter}")  # the server's response id, not lc_run--...


async def test_one_message_id_per_astream(emulator):
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    ids = {c.id async for c in llm.astream("hi")}
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")


def test_langgraph_messages_mode_sees_one_message(emulator):
    from langgraph.graph import START, MessagesState, StateGraph

    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    graph = StateGraph(MessagesState)
    graph.add_node("chat", lambda state: {"messages": [llm.invoke(state["messages"])]})
    graph.add_edge(START, "chat")
    app = graph.compile()
    streamed = [msg for msg, _ in app.stream({"messages": [HumanMessage("hi")]}, stream_mode="messages")]
    assert len({m.id for m in streamed}) == 1
    assert "".join(m.content for m in streamed) == ANSWER


def test_logprobs_arrive_in_stream_chunks(emulator):
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, logprobs=True, top_logprobs=2)
    chunks = list(llm.stream("hi"))
    with_logprobs = [c for c in chunks if c.response_metadata.get("logprobs")]
    assert len(with_logprobs) == len(pieces(ANSWER))
    merged = aggregate(chunks)
    tokens = merged.response_metadata["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == ANSWER
    assert all(len(t["top_logprobs"]) == 2 for t in tokens)
    invoked = llm.invoke("hi").response_metadata["logprobs"]["content"]
    assert [t["token"] for t in invoked] == [t["token"] for t in tokens]


PDF = "JVBERi0xLjQK"
WAV = "UklGRiQAAABXQVZF"


def test_file_and_audio_blocks_go_out_in_the_openai_wire_shape(emulator):
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    message = HumanMessage(content=[
        {"type": "text", "text": "读一下"},
        {"type": "file", "base64": PDF, "mime_type": "application/pdf", "filename": "a.pdf"},
        {"type": "file", "file_id": "file-123"},
        {"type": "audio", "base64": WAV, "mime_type": "audio/wav"},
        {"type": "audio", "url": "https://example.com/a.mp3"},
    ])
    assert llm.invoke([message]).content
    sent = emulator.requests[-1].json["messages"][0]["content"]
    assert sent == [
        {"type": "text", "text": "读一下"},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"}},
        {"type": "file", "file": {"file_id": "file-123"}},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
        {"type": "audio_url", "audio_url": {"url": "https://example.com/a.mp3"}},
    ]


def test_file_blocks_get_a_clear_error_where_they_cannot_go(emulator):
    block = {"type": "file", "base64": PDF, "mime_type": "application/pdf", "filename": "a.pdf"}
    gateway = ChatDomestic(model="m", endpoint=emulator.endpoint("lm_v2"))
    with pytest.raises(ConfigurationError, match="'file' content part cannot be sent to the 'lm_v2' dialect"):
        gateway.invoke([HumanMessage(content=[{"type": "text", "text": "x"}, block])])
    openai = ChatDomestic(model="m", base_url=emulator.base_url)
    with pytest.raises(ConfigurationError, match="file content block cannot be sent"):
        openai.invoke([HumanMessage(content=[{"type": "file", "url": "https://example.com/a.pdf"}])])
    assert not emulator.requests  # refused before sending


def test_configuration_driven_construction_and_round_trip(emulator):
    # what init_chat_model(model, model_provider="domestic_llm", **kwargs) would call after an upstream
    # registration: the standard argument names all work
    config = {"model": "qwen-72b", "temperature": 0.2, "max_tokens": 64, "timeout": 30, "max_retries": 1,
              "base_url": emulator.base_url, "api_key": "sk-conf"}
    emulator.state.api_key = "sk-conf"
    llm = ChatDomestic(**config)
    assert llm.invoke("hi").content
    restored = load(dumpd(llm), secrets_map={"DOMESTIC_LLM_API_KEY": "sk-conf"},
                    valid_namespaces=["langchain_domestic_llm"], allowed_objects=[ChatDomestic])
    assert restored.invoke("hi").content == ANSWER
    sent = emulator.requests[-1].json
    assert (sent["temperature"], sent["max_tokens"]) == (0.2, 64)


def test_configurable_alternatives_select_chat_domestic_by_config(emulator):
    from langchain_core.runnables import ConfigurableField
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    llm = FakeListChatModel(responses=["fake"]).configurable_alternatives(
        ConfigurableField(id="llm"), default_key="fake",
        domestic=ChatDomestic(model="qwen-72b", base_url=emulator.base_url),
    )
    assert llm.invoke("hi").content == "fake"
    assert llm.with_config(configurable={"llm": "domestic"}).invoke("hi").content == ANSWER


def test_langchain_names_and_ours_both_configure_the_same_fields(emulator):
    """`model=`/`max_tokens=`/`stop=`/`timeout=` (typed, see tests/typed_usage.py) and LangChain's other names."""
    ours = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, max_tokens=7, stop=["。"], timeout=9.0)
    theirs = ChatDomestic(model_name="qwen-72b", base_url=emulator.base_url, max_completion_tokens=7,
                          stop_sequences=["。"], request_timeout=9.0)
    for llm in (ours, theirs):
        assert (llm.model, llm.max_tokens, llm.stop, llm.timeout) == ("qwen-72b", 7, ["。"], 9.0)
        llm.invoke("你好")
        assert emulator.requests[-1].json["max_tokens"] == 7 and emulator.requests[-1].json["stop"] == ["。"]
        llm.close()
