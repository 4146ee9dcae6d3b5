"""Configuration has one source per list and default, and the caller's request is never modified."""

from __future__ import annotations

import copy
from contextlib import nullcontext

import httpx
import pytest
import respx

from domestic_llm import ChatClient, ChatRequest, Message
from domestic_llm.config import DEFAULTS, SAMPLING_PARAMS
from domestic_llm.curl import SAMPLING_FIELDS
from domestic_llm.retry import RetryPolicy
from domestic_llm.settings import EndpointSettings
from domestic_llm.thinking import THINK_MODES
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

OK = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "好"}, "finish_reason": "stop"}]}


def test_lists_and_defaults_come_from_one_place():
    assert set(THINK_MODES) == {"split", "drop", "keep"}  # derived from the ThinkMode Literal
    assert set(SAMPLING_PARAMS) <= set(SAMPLING_FIELDS)
    assert set(SAMPLING_PARAMS) <= set(ChatDomestic.model_fields) | {"n", "logprobs", "top_logprobs"}
    for model in (EndpointSettings, ChatDomestic, DomesticLLM):
        fields = model.model_fields
        assert (fields["timeout"].default, fields["connect_timeout"].default, fields["max_retries"].default,
                fields["max_connections"].default) == (DEFAULTS.timeout, DEFAULTS.connect_timeout,
                                                       DEFAULTS.max_retries, DEFAULTS.max_connections)
    client = ChatClient(model="m", base_url="http://127.0.0.1:9/v1")
    assert (client.timeout, client.max_retries) == (DEFAULTS.timeout, DEFAULTS.max_retries)


@pytest.mark.parametrize("dialect", ["openai", "lm_v2"])
@respx.mock
def test_the_callers_request_is_never_modified(dialect):
    route = respx.post(url__regex=r".*").mock(return_value=httpx.Response(200, json=OK))
    client = ChatClient(model="default-model", base_url="http://gw.example/v1", dialect=dialect,
                        params={"top_p": 0.5}, model_kwargs={"tenant": "t1"}, max_retries=0)
    request = ChatRequest("", [Message("system", "s"), Message("user", "a"), Message("user", "b")],
                          params={"temperature": 0})
    before = copy.deepcopy(request)
    with pytest.warns(UserWarning) if dialect == "lm_v2" else nullcontext():
        assert client.invoke(request).text == "好"
    assert request == before
    sent = route.calls.last.request.read()
    assert b"default-model" in sent and b"tenant" in sent and b"top_p" in sent


def test_retry_policy_honours_retry_after_within_its_cap_and_the_deadline():
    from domestic_llm.errors import RateLimitError

    policy = RetryPolicy(max_retries=2)
    exc = RateLimitError("slow down", retry_after=3.0)
    assert policy.delay(0, exc, remaining=None) == 3.0
    assert policy.delay(0, exc, remaining=2.0) is None  # would overrun total_timeout
    assert policy.delay(2, exc, remaining=None) is None  # retries spent
    assert policy.delay(0, RateLimitError("x", retry_after=99), remaining=None) == policy.retry_after_cap
    assert RetryPolicy.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert RetryPolicy.parse_retry_after("soon") is None
