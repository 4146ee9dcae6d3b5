"""Transport and client with respx: headers, body, timeouts, error mapping, fallbacks."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from domestic_llm import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatClient,
    ConfigurationError,
    ContextOverflowError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)

URL = "http://gw.example:1025/v1/chat/completions"
OK = {"id": "x1", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "好"},
                                              "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def client(**kw) -> ChatClient:
    kw.setdefault("max_retries", 0)
    return ChatClient(model="m", base_url="http://gw.example:1025/v1", api_key="sk-secret", **kw)


@respx.mock
def test_headers_body_and_extra_headers():
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=OK))
    c = client(default_headers={"X-Tenant": "t1"})
    assert c.invoke("你好", temperature=0.3).text == "好"
    req = route.calls.last.request
    assert req.headers["authorization"] == "Bearer sk-secret"
    assert req.headers["x-tenant"] == "t1"
    assert req.headers["accept"] == "application/json"
    assert json.loads(req.content) == {"model": "m", "messages": [{"role": "user", "content": "你好"}], "temperature": 0.3}


@respx.mock
def test_timeouts_are_configured_on_the_request():
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=OK))
    client(timeout=7.5, connect_timeout=2.0).invoke("hi")
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 2.0, "read": 7.5, "write": 7.5, "pool": 7.5}


@respx.mock
def test_read_timeout_maps_to_api_timeout_error():
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError) as info:
        client().invoke("hi")
    assert "gw.example" in str(info.value)


@respx.mock
def test_401_carries_status_server_message_request_id_and_url_but_not_the_key():
    respx.post(URL).mock(return_value=httpx.Response(
        401, json={"error": {"message": "invalid api key sk-secret", "code": "invalid_api_key"}},
        headers={"x-request-id": "rid-9"}))
    with pytest.raises(AuthenticationError) as info:
        client().invoke("hi")
    exc = info.value
    assert (exc.status, exc.code, exc.request_id) == (401, "invalid_api_key", "rid-9")
    assert exc.url == URL
    text = str(exc)
    assert "401" in text and "invalid api key" in text and URL in text
    assert "sk-secret" not in text and "sk-secret" not in repr(exc.body)


@respx.mock
def test_500_maps_to_server_error_with_message():
    respx.post(URL).mock(return_value=httpx.Response(500, text="upstream exploded"))
    with pytest.raises(ServerError) as info:
        client().invoke("hi")
    assert info.value.status == 500 and "upstream exploded" in str(info.value)


@respx.mock
def test_context_overflow_and_rate_limit_classes():
    respx.post(URL).mock(return_value=httpx.Response(
        400, json={"error": {"message": "This model's maximum context length is 4096 tokens"}}))
    with pytest.raises(ContextOverflowError):
        client().invoke("hi")
    respx.post(URL).mock(return_value=httpx.Response(429, json={"error": {"message": "slow down"}}))
    with pytest.raises(RateLimitError):
        client().invoke("hi")


@respx.mock
def test_retry_on_503_then_success_honours_retry_after():
    route = respx.post(URL).mock(side_effect=[
        httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {"message": "busy"}}),
        httpx.Response(200, json=OK),
    ])
    assert client(max_retries=2).invoke("hi").text == "好"
    assert route.call_count == 2


@respx.mock
def test_no_retry_on_400():
    route = respx.post(URL).mock(return_value=httpx.Response(400, json={"error": {"message": "bad"}}))
    with pytest.raises(BadRequestError):
        client(max_retries=3).invoke("hi")
    assert route.call_count == 1


@respx.mock
def test_stream_options_rejected_once_then_remembered():
    stream_body = (b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
                   b"data: [DONE]\n\n")
    bodies = []

    def reply(request):
        body = json.loads(request.content)
        bodies.append(body)
        if "stream_options" in body:
            return httpx.Response(400, json={"error": {"message": "Extra inputs are not permitted"}})
        return httpx.Response(200, content=stream_body, headers={"content-type": "text/event-stream"})

    respx.post(URL).mock(side_effect=reply)
    c = client()
    assert "".join(ch.text for ch in c.stream("hi")) == "ok"
    assert "".join(ch.text for ch in c.stream("hi")) == "ok"
    assert ["stream_options" in b for b in bodies] == [True, False, False]


@respx.mock
def test_stream_without_terminator_raises_with_partial_text():
    respx.post(URL).mock(return_value=httpx.Response(
        200, content=b'data: {"choices":[{"index":0,"delta":{"content":"half"}}]}\n\n'))
    with pytest.raises(StreamInterruptedError) as info:
        list(client().stream("hi"))
    assert info.value.partial_text == "half"


def test_unreachable_endpoint_names_the_url_without_credentials():
    c = ChatClient(model="m", base_url="http://user:pw@127.0.0.1:9/v1", max_retries=0, connect_timeout=2)
    with pytest.raises(APIConnectionError) as info:
        c.invoke("hi")
    assert "127.0.0.1:9/v1/chat/completions" in str(info.value)
    assert "pw" not in str(info.value)


def test_configuration_errors_before_any_request(monkeypatch):
    for var in ("ENDPOINT", "BASE_URL", "DIALECT"):
        monkeypatch.delenv(f"DOMESTIC_LLM_{var}", raising=False)
    with pytest.raises(ConfigurationError, match="DOMESTIC_LLM_ENDPOINT"):
        ChatClient(model="m")
    with pytest.raises(ConfigurationError, match="dialect="):
        ChatClient(model="m", endpoint="http://h/some/odd/path")
    with pytest.raises(ConfigurationError, match="known|one of"):
        ChatClient(model="m", base_url="http://h/v1", dialect="nope")
    with pytest.raises(ConfigurationError, match="max_retries"):
        ChatClient(model="m", base_url="http://h/v1", max_retries=-1)
    with pytest.raises(ConfigurationError, match="model"):
        ChatClient(base_url="http://h/v1").invoke("hi")
    with pytest.raises(ConfigurationError, match="http"):
        ChatClient(model="m", base_url="h:1/v1")


def test_environment_configuration(monkeypatch):
    monkeypatch.setenv("DOMESTIC_LLM_ENDPOINT", "http://h:1/v1/chat/completions")
    monkeypatch.setenv("DOMESTIC_LLM_MODEL", "qwen")
    monkeypatch.setenv("DOMESTIC_LLM_API_KEY", "tok")
    c = ChatClient()
    assert (c.model, c.url, c.dialect.name) == ("qwen", "http://h:1/v1/chat/completions", "openai")
    assert "tok" not in repr(c)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("verify", "/nonexistent/ca.pem", "verify='/nonexistent/ca.pem': no such CA bundle"),
    ("max_connections", 0, "max_connections=0 must be >= 1"),
    ("connect_timeout", -1, "connect_timeout=-1 must be a positive"),
    ("auth_scheme", "bogus", "auth_scheme='bogus' must be one of bearer, raw, x-auth-token, basic, none, 'header:<Header-Name>'"),
    ("proxy", "not a url", "proxy='not a url' must be a URL starting with"),
])
def test_transport_options_are_checked_at_construction(option, value, message):
    with pytest.raises(ConfigurationError) as info:
        ChatClient(model="m", base_url="http://h/v1", **{option: value})
    assert message in str(info.value)
