"""The CLI's pieces in-process (no subprocess): error explanations, probe helpers, curl2py, output."""

from __future__ import annotations

import io
import json
import ssl

import httpx
import pytest

from domestic_llm.cli.chat import Answer, Terminal
from domestic_llm.cli.curl2py import curl_to_python
from domestic_llm.cli.errors import CLIError, explain
from domestic_llm.cli.detect import classify_body
from domestic_llm.cli.probe import Probe
from domestic_llm.cli.report import Recorder
from domestic_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContextOverflowError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from domestic_llm.types import Usage

from .helpers import fixture_json, fixture_text

URL = "http://10.0.0.5:1025/v1/chat/completions"


def caused(exc: Exception, cause: BaseException) -> Exception:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(("exc", "code", "words"), [
    (ConfigurationError("model is not set"), 2, ["model is not set"]),
    (CLIError("no endpoint: pass --base-url"), 2, ["--base-url"]),
    (caused(APIConnectionError("cannot reach", url=URL), httpx.ConnectError("[Errno 111] Connection refused")),
     3, ["connection refused by 10.0.0.5:1025", "--base-url"]),
    (caused(APIConnectionError("cannot reach", url=URL),
            httpx.ConnectError("[Errno -2] Name or service not known")), 3, ["cannot resolve the host name"]),
    (caused(APIConnectionError("cannot reach", url="https://gw.example.com/v1/chat/completions"),
            ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")),
     3, ["TLS", "gw.example.com:443", "--ca-bundle", "--insecure"]),
    (caused(APITimeoutError("timed out", url=URL), httpx.ConnectTimeout("")), 6, ["connecting to 10.0.0.5:1025"]),
    (caused(APITimeoutError("timed out", url=URL), httpx.ReadTimeout("")), 6, ["--timeout"]),
    (StreamTimeoutError("stream interrupted: no data for 5s", url=URL), 6, ["--timeout"]),
    (AuthenticationError("HTTP 401", status=401, url=URL), 4, ["rejected the key", "--api-key"]),
    (PermissionDeniedError("HTTP 403", status=403, url=URL), 4, ["refused this key access"]),
    (NotFoundError("HTTP 404", status=404, url=URL), 5, ["--model", "probe"]),
    (ContextOverflowError("HTTP 400: maximum context length", status=400), 5, ["/reset"]),
    (RateLimitError("HTTP 429", status=429), 5, ["rate limited"]),
    (ServerError("HTTP 502", status=502, request_id="rid-7"), 5, ["request id rid-7"]),
    (StreamInterruptedError("stream interrupted: connection lost"), 5, ["retry"]),
    (MalformedResponseError("not JSON"), 5, ["--dialect"]),
    (KeyError("boom"), 1, ["internal error", "--debug"]),
])
def test_every_error_gets_one_line_with_a_fix_and_its_exit_code(exc, code, words):
    message, exit_code = explain(exc)
    assert exit_code == code
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_server_messages_spanning_lines_become_one_line():
    message, _ = explain(ServerError("HTTP 500: line one\nline two\r\n  line three", status=500))
    assert "line one line two line three" in message and "\n" not in message


def test_classify_answers_of_undocumented_paths():
    assert classify_body(fixture_json("seed003_openai_response.json")) == "openai"
    assert classify_body(fixture_json("seed002_pangu_response.json")) == "openai"  # vLLM-shaped: same as openai
    ias_chunk = fixture_text("seed000_ias_stream.txt").split("data:", 2)[1].split("\n")[0]
    assert classify_body(json.loads(ias_chunk)) == "ias"
    assert classify_body({"error_msg": "token expired", "error_code": "APIG.0301"}) == "pangu_v1"
    assert classify_body({"choices": [{"message": {"content": "ok"}, "finish_reason": "normal"}]}) == "lm_v2"
    assert classify_body({"generated_text": "hi"}) == "tgi"
    assert classify_body("Not Found") is None and classify_body({"detail": "Not Found"}) is None


def test_recorder_redacts_the_key_everywhere_it_could_show():
    rec = Recorder("sk-abc123")
    request = httpx.Request("POST", "http://h/v1/chat/completions?api_key=sk-abc123",
                            headers={"Authorization": "Bearer sk-abc123", "X-Auth-Token": "sk-abc123",
                                     "X-Trace": "t-1"}, json={"model": "m", "note": "sk-abc123"})
    rec.on_request(request)
    shown = rec.exchanges[0]
    assert "sk-abc123" not in json.dumps(shown.as_dict())
    assert shown.headers["authorization"] == "Bearer ***" and shown.headers["x-auth-token"] == "***"
    assert shown.headers["x-trace"] == "t-1"
    assert shown.body == {"model": "m", "note": "***"}


def test_probe_of_an_undocumented_path_that_answers_nothing_known_asks_for_dialect(emulator):
    probe = Probe(emulator.url + "/some/gateway/chat", api_key=None, model="m", dialect=None, timeout=10, verify=True)
    with pytest.raises(CLIError) as info:
        probe.run()
    assert info.value.exit_code == 2 and "--dialect" in str(info.value)
    assert [(e.method, e.status) for e in probe.report.exchanges] == [("POST", 404)]  # one small request, shown


def test_curl2py_moves_every_secret_to_the_environment():
    curl = """curl -X POST https://gw.example.com/api/v2/chat/completions \\
      -H 'Authorization: Bearer sk-live-999' -H 'X-Api-Key: hdr-secret-1' -H 'X-Tenant: acme' \\
      -d '{"model": "pangu", "messages": [{"role": "user", "content": "长江有多长？"}], "n": 2,
           "appSecret": "body-secret-2", "stream": true, "max_tokens": 64}'"""
    source, env_vars = curl_to_python(curl)
    for secret in ("sk-live-999", "hdr-secret-1", "body-secret-2"):
        assert secret not in source
    assert sorted(env_vars) == ["DOMESTIC_LLM_API_KEY", "DOMESTIC_LLM_BODY_APPSECRET", "DOMESTIC_LLM_HEADER_X_API_KEY"]
    compile(source, "generated.py", "exec")
    assert "auth_scheme='bearer'" in source and "max_tokens=64" in source
    assert "'X-Tenant': 'acme'" in source
    assert "'n': 2" in source  # not a field of both adapters: kept as a body field, not dropped
    assert "'stream'" not in source  # per call, not per model
    assert "chat.invoke('长江有多长？')" in source


def test_curl2py_without_a_key_reads_nothing_from_the_environment():
    source, env_vars = curl_to_python(fixture_text("seed003_openai_curl.txt"))
    assert env_vars == [] and "import os" not in source and "api_key" not in source
    compile(source, "generated.py", "exec")


def test_terminal_puts_reasoning_apart_and_can_hide_it():
    out, err = io.StringIO(), io.StringIO()
    view = Terminal(out, err, show_reasoning=True)
    view.reasoning("想一想")
    view.text("答案")
    view.end()
    assert out.getvalue() == "答案\n" and err.getvalue() == "[reasoning] 想一想\n"
    out, err = io.StringIO(), io.StringIO()
    view = Terminal(out, err, show_reasoning=False)
    view.reasoning("想一想")
    view.text("答案")
    view.end()
    assert out.getvalue() == "答案\n" and err.getvalue() == ""


def test_figures_never_invent_usage():
    answer = Answer(text="hi", first_token_s=0.5, elapsed_s=1.5)
    assert answer.tokens_per_s is None
    assert answer.figures() == "usage not reported by the server · first token 0.50 s · total 1.50 s"
    answer.usage = Usage(10, 21, 31, reasoning_tokens=5)
    assert answer.tokens_per_s == pytest.approx(21.0)  # 21 tokens over the second after the first token
    assert answer.figures().startswith("tokens: 10 in, 21 out (5 reasoning), 31 total · first token 0.50 s · 21.0 tokens/s")


def test_probe_with_dialect_on_a_bare_server_url_uses_the_dialects_path(emulator):
    report = Probe(emulator.url, api_key=None, model="deepseek-r1", dialect="lm_v2", timeout=10, verify=True).run()
    assert report.chat_url == emulator.endpoint("lm_v2") and report.dialect_source == "--dialect"
    assert report.reasoning == "inline_think" and report.stream_usage is True
    assert [r.path for r in emulator.requests] == ["/lm/v2/chat/completions"] * 3
    assert report.lines[0] == ("endpoint", emulator.url)


def test_probe_reports_a_server_that_refuses_stream_options(emulator):
    emulator.state.reject_stream_options = True
    report = Probe(emulator.endpoint("openai"), api_key=None, model="qwen", dialect=None, timeout=10,
                   verify=True).run()
    findings = dict(report.lines)
    assert report.streams is True and report.stream_options_accepted is False and report.stream_usage is False
    assert findings["stream_options"] == "rejected (HTTP 400); the client retried without it"
    assert findings["stream usage"] == "no: the stream carried no usage"
    streamed = [e for e in report.exchanges if e.body and e.body.get("stream")]
    assert [(e.status, "stream_options" in e.body) for e in streamed] == [(400, True), (200, False)]
    assert len(report.exchanges) == 5  # the model list, plain, stream twice, tools: still a handful
