"""Failures that pass for answers, end to end over real sockets against emulator faults.

Every case runs through `ChatClient`, `ChatDomestic` and `DomesticLLM`, sync and
async, streamed and not (`surfaces.CASES`): errors hidden in HTTP 200 bodies and
in 200 streams, servers that ignore `stream=true`, redirects, bodies that are no
stream, and timeouts. Bounds on elapsed time are generous (a busy CI machine) and
always come with the check that the error is the timeout type.
"""

from __future__ import annotations

import logging
import time

import pytest

from domestic_llm import (
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    DomesticLLMError,
    MalformedResponseError,
    ServerError,
    StreamTimeoutError,
)
from domestic_llm.testing import Fault

from .surfaces import CASES, SURFACES, ask

Q = "介绍一下长江"
ANSWER = f"你好！关于“{Q}”：这是 domestic-llm 模拟器的回答。"
STREAMING = [c for c in CASES if "stream" in c[1]]

ERROR_BODIES = [
    ({"code": 500, "msg": "推理服务繁忙"}, ServerError, "500", "推理服务繁忙"),
    ({"code": 10001, "message": "请求参数错误", "data": None}, ServerError, "10001", "请求参数错误"),
    ({"success": False, "errorCode": "A0400", "errorMsg": "令牌无效"}, ServerError, "A0400", "令牌无效"),
    ({"error_code": "PANGU.0001", "error_msg": "服务内部错误"}, ServerError, "PANGU.0001", "服务内部错误"),
    ({"object": "error", "message": "max_tokens is too large", "type": "BadRequestError", "code": 400},
     BadRequestError, "400", "max_tokens is too large"),
    ({"error": {"message": "model overloaded", "code": 503}}, ServerError, "503", "model overloaded"),
]


def _settings(emulator, **kw):
    return {"base_url": emulator.base_url, "max_retries": 0, **kw}


# every shape through the core in every mode; two of them through every surface
SHAPE_CASES = [(s, m, b) for b in ERROR_BODIES for s, m in CASES if s == "core" or b in ERROR_BODIES[:2]]


@pytest.mark.parametrize(("surface", "mode", "error"), SHAPE_CASES, ids=lambda v: str(v)[:24])
def test_an_error_in_a_200_body_raises_with_the_servers_code_and_message(emulator, surface, mode, error):
    body, cls, code, message = error
    emulator.fault(Fault(status=200, body=body))
    with pytest.raises(cls) as info:
        ask(surface, mode, **_settings(emulator))
    exc = info.value
    assert (exc.code, exc.server_message) == (code, message) and message in str(exc)
    assert exc.url == emulator.base_url + "/chat/completions"


@pytest.mark.parametrize(("surface", "mode", "body"), [
    *((s, m, {"id": "x", "choices": []}) for s, m in CASES),
    ("core", "invoke", {"id": "x", "choices": None, "usage": None}),
    ("core", "stream", {"id": "x"}),
])
def test_a_200_answer_without_choices_is_an_error_not_an_empty_success(emulator, surface, mode, body):
    emulator.fault(Fault(status=200, body=body))
    with pytest.raises(MalformedResponseError, match="no choices"):
        ask(surface, mode, **_settings(emulator))


def test_a_retryable_error_in_a_200_body_is_retried(emulator):
    emulator.fault(Fault(status=200, body={"code": 503, "msg": "推理服务繁忙"}, times=1))
    assert ask("core", "invoke", **_settings(emulator, max_retries=1))[0] == ANSWER
    assert len(emulator.requests) == 2


# ---- errors inside a 200 stream ----------------------------------------------------------

@pytest.mark.parametrize(("surface", "mode"), STREAMING)
def test_an_error_event_before_any_text_raises(emulator, surface, mode):
    emulator.fault(Fault(error_event={"code": 500, "msg": "推理服务繁忙"}))
    with pytest.raises(ServerError) as info:
        ask(surface, mode, **_settings(emulator))
    assert info.value.server_message == "推理服务繁忙" and info.value.partial_text == ""


@pytest.mark.parametrize(("surface", "mode"), STREAMING)
def test_an_error_object_after_some_text_raises_with_the_partial_answer(emulator, surface, mode):
    emulator.fault(Fault(error_event={"object": "error", "message": "engine died", "code": 500},
                         error_after_chunks=4))  # the role chunk, then three 3-character pieces
    with pytest.raises(ServerError) as info:
        ask(surface, mode, **_settings(emulator))
    exc = info.value
    assert exc.server_message == "engine died" and exc.partial_text == ANSWER[:9]
    assert exc.request_id == f"emu-req-{len(emulator.requests)}" and exc.url.endswith("/v1/chat/completions")


@pytest.mark.parametrize(("surface", "mode"), STREAMING)
def test_an_error_mid_stream_carries_url_request_id_and_partial_text(emulator, surface, mode):
    emulator.fault(Fault(error_event={"error": {"message": "upstream reset", "code": "internal_error"}},
                         error_after_chunks=3))
    with pytest.raises(APIStatusError) as info:
        ask(surface, mode, **_settings(emulator))
    exc = info.value
    assert (exc.code, exc.server_message, exc.partial_text) == ("internal_error", "upstream reset", ANSWER[:6])
    assert exc.request_id and exc.url


@pytest.mark.parametrize(("surface", "mode"), STREAMING)
def test_a_named_error_event_keeps_the_servers_message(emulator, surface, mode):
    emulator.fault(Fault(error_event={"message": "quota exhausted"}, error_event_name="error", error_after_chunks=2))
    with pytest.raises(ServerError) as info:
        ask(surface, mode, **_settings(emulator))
    assert info.value.server_message == "quota exhausted" and info.value.partial_text == ANSWER[:3]


NO_STREAM_BODIES = [
    ("data: [DONE]\n\n", "text/event-stream", "without any content"),
    ("", "text/event-stream", "text/event-stream"),
    ("upstream connect error", "text/plain", "upstream connect error"),
    ("<html><body>502 Bad Gateway</body></html>", "text/html", "text/html"),
]


@pytest.mark.parametrize(("surface", "mode", "raw", "content_type", "shown"), [
    *((s, m, *NO_STREAM_BODIES[0]) for s, m in STREAMING),
    *(("core", m, *body) for m in ("stream", "astream") for body in NO_STREAM_BODIES[1:]),
])
def test_a_body_that_is_no_stream_raises_showing_content_type_and_first_bytes(emulator, surface, mode, raw,
                                                                              content_type, shown):
    emulator.fault(Fault(raw=raw, content_type=content_type))
    with pytest.raises(MalformedResponseError) as info:
        ask(surface, mode, **_settings(emulator))
    assert shown in str(info.value) and "content type" in str(info.value)


# ---- a server that does not stream -----------------------------------------------------

@pytest.mark.parametrize(("surface", "mode"), STREAMING)
@pytest.mark.parametrize("content_type", [None, "text/event-stream"])
def test_a_server_ignoring_stream_true_is_delivered_as_chunks_with_one_warning(emulator, surface, mode, content_type,
                                                                             caplog):
    emulator.fault(Fault(ignore_stream=True, content_type=content_type))
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        text, _, total = ask(surface, mode, model="deepseek-r1", **_settings(emulator))
    assert text == ANSWER and total and total > len(Q)
    assert sum("does not stream" in r.getMessage() for r in caplog.records) == 1


def test_the_not_streaming_warning_is_given_once_per_model(emulator, caplog):
    from domestic_llm import ChatClient

    emulator.fault(Fault(ignore_stream=True, times=2))
    client = ChatClient(**_settings(emulator, model="deepseek-r1"))
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        for _ in range(2):
            chunks = list(client.stream(Q))
            assert "".join(c.reasoning for c in chunks) and chunks[-1].final and chunks[-1].finish_reason == "stop"
    client.close()
    assert sum("does not stream" in r.getMessage() for r in caplog.records) == 1


# ---- redirects ---------------------------------------------------------------------------

@pytest.mark.parametrize(("surface", "mode"), CASES)
def test_a_trailing_slash_redirect_is_not_followed_and_is_explained(emulator, surface, mode):
    endpoint = emulator.url + "/v1/chat/completions/"  # the ASGI server answers 307 to the URL without the slash
    with pytest.raises(APIStatusError) as info:
        ask(surface, mode, endpoint=endpoint, max_retries=0)
    text = str(info.value)
    assert info.value.status == 307 and "trailing slash" in text and emulator.url + "/v1/chat/completions'" in text


def test_a_redirect_elsewhere_names_the_location(emulator):
    emulator.fault(Fault(redirect="https://gateway.example/v2/chat"))
    with pytest.raises(APIStatusError) as info:
        ask("core", "invoke", **_settings(emulator))
    assert info.value.status == 307 and "https://gateway.example/v2/chat" in str(info.value)
    assert len(emulator.requests) == 1  # not followed


# ---- timeouts ------------------------------------------------------------------------------

@pytest.mark.parametrize(("surface", "mode"), CASES)
def test_total_timeout_caps_a_call_to_a_server_that_never_answers(emulator, surface, mode, record_property):
    emulator.fault(Fault(hang=30, times=10))
    start = time.monotonic()
    with pytest.raises(APITimeoutError):
        ask(surface, mode, **_settings(emulator, timeout=None, total_timeout=1, max_retries=3))
    elapsed = time.monotonic() - start
    record_property("elapsed", round(elapsed, 2))
    assert elapsed < 5  # about 1 s; the bound only has to survive a loaded machine


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_total_timeout_caps_retries_and_a_single_slow_attempt(emulator, mode):
    emulator.fault(Fault(hang=30, times=10))
    start = time.monotonic()
    with pytest.raises(APITimeoutError):
        ask("core", mode, **_settings(emulator, timeout=2, total_timeout=2.5, max_retries=3))
    assert time.monotonic() - start < 6 and len(emulator.requests) <= 2


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_timeout_bounds_the_whole_non_streamed_read(emulator, surface, mode):
    emulator.fault(Fault(trickle=0.3))  # eight pieces 0.3 s apart: every read is quicker than the timeout
    with pytest.raises(APITimeoutError, match="whole non-streamed answer"):
        ask(surface, mode, **_settings(emulator, timeout=0.6))


@pytest.mark.parametrize(("surface", "mode"), STREAMING)
def test_stall_timeout_covers_a_silent_stream(emulator, surface, mode):
    emulator.fault(Fault(stall_after_chunks=3))  # then silence, no keep-alives
    with pytest.raises(StreamTimeoutError) as info:
        ask(surface, mode, **_settings(emulator, stall_timeout=0.5, timeout=60))
    assert info.value.partial_text == ANSWER[:6] and "no data for 0.5s" in str(info.value)


def test_every_error_here_is_a_domestic_llm_error():
    assert all(issubclass(cls, DomesticLLMError) for _, cls, _, _ in ERROR_BODIES)


def test_the_error_shapes_are_data_a_dialect_can_extend():
    from domestic_llm.assembler import StreamAssembler
    from domestic_llm.dialects.base import ParseOptions
    from domestic_llm.dialects.openai import OpenAIDialect
    from domestic_llm.error_bodies import ErrorShape, recognise

    shape = ErrorShape("gateway_x", "status", ok=("OK",), code_keys=("status",), message_keys=("reason",))
    assert recognise({"status": "BUSY", "reason": "排队中"}) is None  # unknown to the common shapes
    found = recognise({"status": "BUSY", "reason": "排队中", "traceId": "t-1"}, (shape,))
    assert (found.shape, found.code, found.message, found.request_id) == ("gateway_x", "BUSY", "排队中", "t-1")
    assert recognise({"status": "OK", "reason": ""}, (shape,)) is None
    assert recognise({"code": 0, "msg": "success", "choices": [{"index": 0}]}) is None  # an answer is an answer

    class GatewayX(OpenAIDialect):
        name = "gateway_x"
        error_shapes = (shape,)

    assembler = StreamAssembler(GatewayX(), ParseOptions(), url="http://gw/x")
    with pytest.raises(ServerError) as info:
        assembler.feed('data: {"status": "BUSY", "reason": "排队中"}\n\n'.encode())
    assert info.value.server_message == "排队中" and info.value.url == "http://gw/x"


ECHOED_KEY = "sk-echoed-by-the-gateway-0123456789"


@pytest.mark.parametrize(("surface", "mode", "fault"), [
    *((s, m, Fault(status=200, body={"code": 401, "msg": f"令牌无效: {ECHOED_KEY}"})) for s, m in CASES),
    *((s, m, Fault(error_event={"code": 401, "msg": f"key {ECHOED_KEY} expired"}, error_after_chunks=1))
      for s, m in STREAMING),
    ("core", "invoke", Fault(raw=f"denied for {ECHOED_KEY}", content_type="text/plain")),
    ("core", "stream", Fault(raw=f"denied for {ECHOED_KEY}", content_type="text/plain")),
])
def test_a_key_echoed_in_a_200_body_or_stream_never_reaches_the_error(emulator, surface, mode, fault):
    emulator.fault(fault)
    with pytest.raises(DomesticLLMError) as info:
        ask(surface, mode, **_settings(emulator, api_key=ECHOED_KEY))
    exc = info.value
    seen = " ".join(map(str, (exc, repr(exc), exc.args, exc.server_message, exc.body, exc.__cause__)))
    assert ECHOED_KEY not in seen
    assert "***" in str(exc)  # the message is kept, only the key is blanked
