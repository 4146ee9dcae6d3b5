"""Every gateway dialect end to end: ChatDomestic against the emulator over real sockets."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from domestic_llm.auth import HuaweiIAMTokenProvider
from langchain_domestic_llm import AuthenticationError, BadRequestError, ChatDomestic

from .helpers import aggregate, fixture_text

Q = "你好，介绍一下长江"
DIALECT_MODELS = [
    ("ias", "Qwen-NLP-72B", False),
    ("lm_v2", "deepseek-r1-distill-qwen-32b", True),
    ("pangu_v1", "pangu-nlp-n2-reasoner-32k", True),
    ("pangu_v2", "pangu-nlp-n2-reasoner-32k", True),
]


@pytest.mark.parametrize(("dialect", "model", "reasons"), DIALECT_MODELS)
def test_invoke_and_stream_agree(emulator, dialect, model, reasons):
    emulator.state.chunk_bytes = 3
    emulator.state.api_key = "tok-1"
    llm = ChatDomestic(model=model, endpoint=emulator.endpoint(dialect), api_key="tok-1")
    assert llm.client.dialect.name == dialect  # inferred from the path
    invoked = llm.invoke(Q)
    streamed = aggregate(llm.stream(Q))
    assert invoked.content == streamed.content == f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"
    reasoning = invoked.additional_kwargs.get("reasoning_content")
    assert reasoning == streamed.additional_kwargs.get("reasoning_content")
    assert bool(reasoning) is reasons and "<think>" not in invoked.content
    assert invoked.usage_metadata == streamed.usage_metadata and invoked.usage_metadata["total_tokens"] > 0
    assert invoked.response_metadata["finish_reason"] == streamed.response_metadata["finish_reason"] == "stop"


@pytest.mark.parametrize(("dialect", "model", "reasons"), DIALECT_MODELS)
async def test_async_invoke_and_stream_agree(emulator, dialect, model, reasons):
    llm = ChatDomestic(model=model, endpoint=emulator.endpoint(dialect))
    invoked = await llm.ainvoke(Q)
    streamed = aggregate([c async for c in llm.astream(Q)])
    assert invoked.content == streamed.content
    assert invoked.additional_kwargs.get("reasoning_content") == streamed.additional_kwargs.get("reasoning_content")
    assert invoked.usage_metadata == streamed.usage_metadata


def test_ias_raw_token_trace_ids_and_sensitive_flag(emulator):
    emulator.state.api_key = "4f2d383beb34439694efa18adf908b9d"
    llm = ChatDomestic(model="Qwen-NLP-72B", endpoint=emulator.endpoint("ias"), api_key=emulator.state.api_key,
                       model_kwargs={"modelVersion": ""})
    msg = aggregate(llm.stream("这是敏感问题"))
    assert emulator.requests[-1].headers["authorization"] == "4f2d383beb34439694efa18adf908b9d"
    assert emulator.requests[-1].json["modelVersion"] == ""
    assert msg.response_metadata["app_id"] == "564866165928038400"
    assert msg.response_metadata["global_trace_id"].startswith("b904eeb3-emu-")
    assert msg.response_metadata["sensitive_word"] is True


def test_lm_v2_accepts_a_langchain_conversation_with_system_and_consecutive_users(emulator):
    llm = ChatDomestic(model="deepseek-r1-distill-qwen-32b", endpoint=emulator.endpoint("lm_v2"), temperature=0)
    msg = llm.invoke([SystemMessage("你是导游"), HumanMessage("介绍长江"), AIMessage("长江很长"),
                      HumanMessage("途径哪些省"), HumanMessage("列两个")])
    assert msg.content and msg.response_metadata["finish_reason"] == "stop"
    assert msg.response_metadata["raw_finish_reason"] == "normal"
    body = emulator.requests[-1].json
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["temperature"] == 0.01


def test_lm_v2_strict_server_rejects_what_the_client_would_not_send(emulator):
    import httpx

    # the emulator really enforces the rules: an even conversation sent raw is refused
    r = httpx.post(emulator.endpoint("lm_v2"), json={"model": "m", "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
    assert r.status_code == 400 and "odd" in r.text
    llm = ChatDomestic(model="m", endpoint=emulator.endpoint("lm_v2"), max_retries=0)
    with pytest.raises(Exception, match="top_p"):
        llm.invoke("q", top_p=1.5)
    assert len(emulator.requests) == 1  # the bad top_p never left the client


def test_pangu_v1_moderation_and_error_bodies(emulator):
    llm = ChatDomestic(model="pangu", endpoint=emulator.endpoint("pangu_v1"), max_retries=0)
    msg = llm.invoke("一个违规问题")
    assert msg.content == "抱歉，这个问题我无法回答。"
    assert msg.response_metadata["finish_reason"] == "content_filter"
    assert msg.response_metadata["moderation_blocked"] is True
    streamed = aggregate(llm.stream("一个违规问题"))
    assert streamed.content.endswith("抱歉，这个问题我无法回答。")
    assert streamed.response_metadata["finish_reason"] == "content_filter"
    from domestic_llm.testing import Fault

    emulator.fault(Fault(status=400))
    with pytest.raises(BadRequestError) as info:
        llm.invoke("q")
    assert info.value.code == "PANGU.400" and "emulated failure 400" in info.value.server_message


def test_pangu_v1_iam_token_provider_refreshes_after_401(emulator):
    provider = HuaweiIAMTokenProvider(iam_url=emulator.url, username="u", password="emu-password",
                                      domain_name="d", project_name="cn-southwest-2")
    assert "emu-password" not in repr(provider)
    llm = ChatDomestic(model="pangu", endpoint=emulator.endpoint("pangu_v1"), token_provider=provider)
    assert llm.invoke("q").content
    first = emulator.requests[-1].headers["x-auth-token"]
    assert first == "MIIemu-iam-token-1"
    assert llm.invoke("q").content and emulator.state.iam_issued == 1  # cached
    emulator.state.iam_tokens.clear()  # the gateway expires every token
    assert llm.invoke("q").content
    assert emulator.state.iam_issued == 2 and emulator.requests[-1].headers["x-auth-token"] == "MIIemu-iam-token-2"


def test_iam_wrong_password_is_an_authentication_error(emulator):
    provider = HuaweiIAMTokenProvider(iam_url=emulator.url, username="u", password="bad-pw", domain_name="d",
                                      project_id="p")
    llm = ChatDomestic(model="pangu", endpoint=emulator.endpoint("pangu_v1"), token_provider=provider)
    with pytest.raises(AuthenticationError) as info:
        llm.invoke("q")
    assert "bad-pw" not in str(info.value)


def test_from_curl_seed000_talks_to_the_emulator(emulator):
    curl = fixture_text("seed000_ias_curl.txt").replace("http://xxx.xxx.xxx.xxx:18063", emulator.url)
    emulator.state.api_key = "4f2d383beb34439694efa18adf908b9d"
    llm = ChatDomestic.from_curl(curl)
    assert (llm.client.dialect.name, llm.model, llm.auth_scheme) == ("ias", "Qwen-NLP-72B", "raw")
    assert (llm.temperature, llm.top_p, llm.presence_penalty) == (0.95, 0.7, 1)
    assert llm.api_key.get_secret_value() == "4f2d383beb34439694efa18adf908b9d"
    assert "4f2d383beb34439694efa18adf908b9d" not in repr(llm)
    assert llm.invoke("你好").content
    sent = emulator.requests[-1]
    assert sent.json["modelVersion"] == "" and sent.json["temperature"] == 0.95
    assert "postman-token" not in sent.headers and sent.headers["user-agent"].startswith("python-httpx")


def test_from_curl_seed001_talks_to_the_emulator(emulator):
    curl = fixture_text("seed001_lm_v2_curl.txt").replace("http(s)://[host]:{port}", emulator.url)
    emulator.state.api_key = "abcd*****"
    llm = ChatDomestic.from_curl(curl)
    assert (llm.client.dialect.name, llm.model, llm.max_tokens, llm.auth_scheme) == ("lm_v2", "your-api-name", 10, "bearer")
    assert llm.invoke("介绍一下北京").content
    assert emulator.requests[-1].json["max_completion_tokens"] == 10


def test_from_curl_template_url_gets_a_clear_error():
    from langchain_domestic_llm import ConfigurationError

    with pytest.raises(ConfigurationError, match="template"):
        ChatDomestic.from_curl(fixture_text("seed001_lm_v2_curl.txt"))


def test_unknown_path_lists_the_known_dialects():
    # raised while pydantic validates the model, which wraps it in its ValidationError (a ValueError)
    with pytest.raises(ValueError) as info:
        ChatDomestic(model="m", endpoint="http://h/odd/path")
    for name in ("ias", "lm_v2", "openai", "pangu_v1", "pangu_v2"):
        assert name in str(info.value)
