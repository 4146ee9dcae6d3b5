"""Fault scenarios end to end over real sockets: retries, interruptions, stalls, damaged lines."""

from __future__ import annotations

import logging
import time

import pytest
from langchain_core.exceptions import ContextOverflowError as LCContextOverflow
from langchain_core.exceptions import ModelAPIError, ModelRateLimitError, ModelTimeoutError

from domestic_llm import ChatClient
from domestic_llm.testing import Fault
from langchain_domestic_llm import (
    APIConnectionError,
    BadRequestError,
    ChatDomestic,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
)

from .helpers import aggregate

Q = "介绍一下长江"
ANSWER = f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"


def llm(emulator, **kw) -> ChatDomestic:
    kw.setdefault("model", "qwen-72b")
    return ChatDomestic(base_url=emulator.base_url, **kw)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
def test_fails_twice_then_succeeds(emulator, status):
    emulator.fault(Fault(status=status, times=2, retry_after="0"))
    assert llm(emulator, max_retries=2).invoke(Q).content == ANSWER
    assert len(emulator.requests) == 3


def test_streams_are_retried_before_the_first_byte(emulator):
    emulator.fault(Fault(status=503, times=1, retry_after="0"))
    assert aggregate(llm(emulator).stream(Q)).content == ANSWER
    assert len(emulator.requests) == 2


def test_retry_after_is_honoured(emulator):
    emulator.fault(Fault(status=429, times=1, retry_after="1"))
    start = time.monotonic()
    assert llm(emulator).invoke(Q).content == ANSWER
    assert time.monotonic() - start >= 0.95 and len(emulator.requests) == 2


def test_retries_exhausted_raise_with_the_last_status(emulator):
    emulator.fault(Fault(status=429, times=5, retry_after="0"))
    with pytest.raises(RateLimitError) as info:
        llm(emulator, max_retries=2).invoke(Q)
    assert len(emulator.requests) == 3
    exc = info.value
    assert exc.status == 429 and "emulated failure 429" in exc.server_message and exc.request_id == "emu-error"
    assert isinstance(exc, ModelRateLimitError) and exc.is_retryable  # langchain-core's standard type too


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (401, Exception), (403, Exception),
                                             (404, Exception), (422, BadRequestError)])
def test_non_retryable_statuses_fail_at_once(emulator, status, cls):
    emulator.fault(Fault(status=status, times=3))
    with pytest.raises(cls) as info:
        llm(emulator, max_retries=3).invoke(Q)
    assert len(emulator.requests) == 1 and info.value.status == status


def test_total_timeout_caps_retries(emulator):
    emulator.fault(Fault(status=503, times=5, retry_after="5"))
    start = time.monotonic()
    with pytest.raises(ServerError):
        llm(emulator, max_retries=5, total_timeout=2).invoke(Q)
    # no retry: waiting the 5 s Retry-After would overrun the cap (the time bound is generous for busy CI)
    assert len(emulator.requests) == 1 and time.monotonic() - start < 4.5


def test_server_errors_are_langchain_model_errors_too(emulator):
    emulator.fault(Fault(status=500))
    with pytest.raises(ModelAPIError) as info:
        llm(emulator, max_retries=0).invoke(Q)
    assert isinstance(info.value, ServerError) and info.value.url == emulator.base_url + "/chat/completions"
    emulator.fault(Fault(status=400, body={"error": {"message": "This model's maximum context length is 8192 tokens",
                                                      "code": "context_length_exceeded"}}))
    with pytest.raises(LCContextOverflow) as info:
        llm(emulator).invoke(Q)
    assert info.value.code == "context_length_exceeded"


def test_with_retry_and_with_fallbacks_work(emulator):
    emulator.fault(Fault(status=503, times=1))
    flaky = llm(emulator, max_retries=0).with_retry(retry_if_exception_type=(ServerError,), stop_after_attempt=2,
                                                   wait_exponential_jitter=False)
    assert flaky.invoke(Q).content == ANSWER
    emulator.fault(Fault(status=500, times=1))
    fallback = llm(emulator, max_retries=0).with_fallbacks([llm(emulator, model="backup")])
    assert fallback.invoke(Q).content == ANSWER and emulator.requests[-1].json["model"] == "backup"


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_dropped_connection_raises_with_partial_text_and_is_not_retried(emulator, asynchronous):
    emulator.fault(Fault(drop_after_chunks=6))
    model = llm(emulator)
    received = []
    with pytest.raises(StreamInterruptedError) as info:
        if asynchronous:
            async for c in model.astream(Q):
                received.append(c.content)
        else:
            for c in model.stream(Q):
                received.append(c.content)
    exc = info.value
    assert exc.partial_text == "".join(received) == ANSWER[:15]  # 5 pieces of 3 characters after the role chunk
    assert "connection lost" in str(exc) and len(emulator.requests) == 1


def test_stream_without_terminator_is_an_interruption(emulator):
    # a fault that drops the connection right after the last content event but before [DONE]
    n_events = 1 + len(ANSWER) // 3 + 1
    emulator.fault(Fault(drop_after_chunks=n_events))
    with pytest.raises(StreamInterruptedError) as info:
        list(llm(emulator).stream(Q))
    assert info.value.partial_text == ANSWER


def test_keepalive_only_stall_raises_stream_timeout(emulator):
    emulator.fault(Fault(stall_after_chunks=3, keepalive_interval=0.05))
    start = time.monotonic()
    with pytest.raises(StreamTimeoutError) as info:
        list(llm(emulator, stall_timeout=0.5).stream(Q))
    assert time.monotonic() - start < 5
    assert info.value.partial_text == ANSWER[:6] and isinstance(info.value, ModelTimeoutError)


def test_silent_stall_hits_the_read_timeout(emulator):
    emulator.fault(Fault(stall_after_chunks=2))
    start = time.monotonic()
    with pytest.raises(StreamTimeoutError):
        list(llm(emulator, timeout=0.5).stream(Q))
    assert time.monotonic() - start < 5


def test_damaged_lines_are_recovered_and_counted(emulator):
    emulator.fault(Fault(damage_lines=True))
    msg = aggregate(llm(emulator).stream(Q))
    assert msg.content == ANSWER and msg.response_metadata["recovered_lines"] > 3


def test_unrecoverable_lines_are_skipped_with_one_warning_or_raise_when_strict(emulator, caplog):
    emulator.fault(Fault(break_lines=True))
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        msg = aggregate(llm(emulator).stream(Q))
    skipped = msg.response_metadata["skipped_lines"]
    assert skipped >= 3 and len(msg.content) < len(ANSWER)
    assert sum("unparseable" in r.getMessage() for r in caplog.records) == 1
    emulator.fault(Fault(break_lines=True))
    with pytest.raises(MalformedResponseError):
        list(llm(emulator, strict=True).stream(Q))


def test_slow_drip_bytes(emulator):
    emulator.state.chunk_bytes = 1
    emulator.state.delay = 0.0005
    assert aggregate(llm(emulator).stream(Q)).content == ANSWER


def test_stream_options_rejected_by_a_strict_server_is_retried_once_without(emulator):
    emulator.state.reject_stream_options = True
    model = llm(emulator)
    assert aggregate(model.stream(Q)).content == ANSWER
    assert aggregate(model.stream(Q)).content == ANSWER
    assert ["stream_options" in r.json for r in emulator.requests] == [True, False, False]


def test_connection_refused_is_retried_then_raised():
    client = ChatClient(model="m", base_url="http://127.0.0.1:9/v1", max_retries=2, connect_timeout=1)
    start = time.monotonic()
    with pytest.raises(APIConnectionError):
        client.invoke(Q)
    assert time.monotonic() - start > 0.5  # backoff happened between the attempts


def test_an_unrelated_400_on_a_stream_does_not_switch_off_usage(emulator):
    model = llm(emulator, max_retries=0)
    emulator.fault(Fault(status=400, times=2))  # the request is bad, with or without stream_options
    with pytest.raises(BadRequestError):
        list(model.stream(Q))
    assert ["stream_options" in r.json for r in emulator.requests] == [True, False]
    usage = aggregate(model.stream(Q)).usage_metadata
    assert emulator.requests[-1].json["stream_options"] == {"include_usage": True} and usage["total_tokens"] > 0
