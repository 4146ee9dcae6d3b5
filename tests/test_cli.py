"""The `domestic-llm` command end to end: the installed console script as a subprocess, over real sockets.

One `domestic-llm emulate --port 0` process serves the whole module (and proves
`emulate` itself); tests that need to change the server's behaviour (a required
key, a fault) use the in-process `emulator` fixture instead. The interactive mode
is driven through a pseudo-terminal (stdlib `pty`), so readline line editing and
history are exercised as a person would use them.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest

from domestic_llm import known_dialects
from domestic_llm.testing import Emulator, Fault
from domestic_llm.testing.replies import default_reply, usage_of

from .helpers import fixture_text

SCRIPT = shutil.which("domestic-llm", path=str(Path(sys.executable).parent))
CLI = [SCRIPT] if SCRIPT else [sys.executable, "-m", "domestic_llm.cli"]
EXIT = {"usage": 2, "connection": 3, "auth": 4, "server": 5, "timeout": 6}
SECRET = "sk-cli-secret-4f2d383b"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without DOMESTIC_LLM_* (so the developer's own settings cannot leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMESTIC_LLM_") and k != "NO_COLOR"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, encoding="utf-8",
                          env=env or clean_env(), timeout=timeout)


def expected(question: str, model: str) -> tuple[str, str, dict[str, int]]:
    """What the emulated model answers, and the usage it reports (its replies are deterministic)."""
    messages = [{"role": "user", "content": question}]
    reply = default_reply({"messages": messages}, model, None)
    return reply.text, reply.reasoning, usage_of(reply, messages)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("domestic-llm: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def served():
    """`domestic-llm emulate --port 0` running for this module: (base URL, banner lines)."""
    proc = subprocess.Popen([*CLI, "emulate", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", env=clean_env())
    banner: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line.rstrip("\n"))
        if line.startswith("try:"):
            break
    match = re.search(r"on (http://127\.0\.0\.1:\d+)", banner[0] if banner else "")
    if match is None:
        proc.kill()
        pytest.fail(f"emulate did not start: {banner} {proc.stderr.read() if proc.stderr else ''}")
    try:
        yield match.group(1), banner
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert code == 0  # Ctrl-C / SIGTERM is a clean stop, not an error


# ---- emulate ---------------------------------------------------------------------------------

def test_emulate_prints_every_route(served):
    url, banner = served
    text = "\n".join(banner)
    for name, path in EMULATED_PATHS.items():
        assert re.search(rf"^\s+\S*\b{name}\b\S*\s+POST\s+{re.escape(url + path)}$", text, re.M), (name, text)
    assert f"GET   {url}/v1/models" in text
    assert f"--base-url {url}/v1" in banner[-1]


# ---- probe -----------------------------------------------------------------------------------

def emulated_paths() -> dict[str, str]:
    """Every dialect the emulator serves and its route's path (read from the emulator, so new ones count)."""
    emu = Emulator()  # not started: only its routes are read
    paths = {}
    for name in known_dialects():
        try:
            paths[name] = httpx.URL(emu.endpoint(name)).path
        except KeyError:  # a dialect the emulator does not speak
            continue
    return paths


EMULATED_PATHS = emulated_paths()
# what the probe finds with a reasoning model: how reasoning arrives, whether tools are carried
EXPECTED = {
    "openai": ("field", True),
    "ias": ("none", True),  # seed 000's gateway has no reasoning
    "lm_v2": ("inline_think", True),  # seed 001: DeepSeek models put <think> in the content
    "pangu_v1": ("field", True),
    "pangu_v2": ("field", True),
}


@pytest.mark.parametrize(("dialect", "path"), EMULATED_PATHS.items(), ids=list(EMULATED_PATHS))
def test_probe_names_the_dialect_of_every_route(served, dialect, path):
    url, _ = served
    result = run("probe", url + path, "--model", "deepseek-r1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["dialect"], report["dialect_source"]) == (dialect, "path")
    assert report["auth_ok"] is True and report["streams"] is True
    # a handful of small requests, each question with a tiny cap on the answer
    requests = report["requests"]
    assert 3 <= len(requests) <= 5
    asked = [r for r in requests if isinstance(r["body"], dict) and {"messages", "inputs", "prompt", "text_input"}
             & set(r["body"])]
    assert len(asked) >= 2 and asked[-1]["status"] == 200
    for sent in asked:
        body = {**sent["body"], **(sent["body"].get("parameters") or {})}
        caps = [body[k] for k in ("max_tokens", "max_completion_tokens", "max_new_tokens") if k in body]
        assert caps and max(caps) <= 16, sent["body"]
    if dialect in EXPECTED:  # the seeds' dialects, whose behaviour the emulator pins down
        reasoning, tools = EXPECTED[dialect]
        assert report["reasoning"] == reasoning and report["stream_usage"] is True
        assert report["tools_accepted"] is tools and report["tool_called"] == "get_current_time"
        _, _, usage = expected("Reply with the single word: ok", "deepseek-r1")
        assert report["usage"]["input_tokens"] == usage["prompt_tokens"]
        assert (report["models"] is not None) == (dialect == "openai")


def test_probe_finds_the_dialect_of_a_bare_server_url(served):
    url, _ = served
    result = run("probe", url, "--json")  # no path: one GET of the model list tells it is OpenAI-style
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["dialect"], report["dialect_source"]) == ("openai", "models")
    assert report["chat_url"] == url + "/v1/chat/completions"
    assert report["models"] == ["emulated"] and report["model"] == "emulated"  # the first listed model is used
    assert report["context_length"] == 32768  # the emulator reports vLLM's max_model_len
    assert report["reasoning"] == "none"


def test_probe_report_shows_what_was_sent_with_the_key_redacted(emulator):
    emulator.state.api_key = SECRET
    result = run("probe", emulator.endpoint("openai"), "--model", "qwen",
                 env=clean_env(DOMESTIC_LLM_API_KEY=SECRET))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert SECRET not in out + result.stderr
    assert re.search(r"^auth:\s+ok: the key was accepted \(sent as bearer\)$", out, re.M), out
    assert "requests sent (4; key redacted):" in out
    assert out.count("authorization: Bearer ***") == 4
    assert '"max_tokens": 16' in out and '"stream_options": {"include_usage": true}' in out
    # redaction is for display only: the server did get the key, in every request
    assert [r.headers.get("authorization") for r in emulator.requests] == [f"Bearer {SECRET}"] * 4


def test_probe_with_a_wrong_key_reports_it_and_exits_auth(emulator):
    emulator.state.api_key = SECRET
    result = run("probe", emulator.endpoint("ias"), "--model", "qwen", "--api-key", "wrong-token")
    assert re.search(r"^auth:\s+REJECTED: HTTP 401", result.stdout, re.M), result.stdout
    assert "wrong-token" not in result.stdout + result.stderr
    assert_one_line_error(result, EXIT["auth"], "rejected the key", "401")
    assert len(emulator.requests) == 1  # nothing more is sent once the key is refused


# ---- chat ------------------------------------------------------------------------------------

def test_chat_one_shot_shows_reasoning_apart_with_figures(served):
    url, _ = served
    result = run("chat", "你好", "--base-url", url + "/v1", "--model", "deepseek-r1")
    assert result.returncode == 0, result.stderr
    text, reasoning, usage = expected("你好", "deepseek-r1")
    assert reasoning
    assert result.stdout == text + "\n"  # stdout carries the answer only
    assert f"[reasoning] {reasoning}\n" in result.stderr
    figures = result.stderr.strip().splitlines()[-1]
    assert figures.startswith(f"tokens: {usage['prompt_tokens']} in, {usage['completion_tokens']} out "
                              f"({usage['reasoning_tokens']} reasoning), {usage['total_tokens']} total · first token ")
    assert re.search(r"first token \d+\.\d\d s · \d+\.\d tokens/s · total \d+\.\d\d s$", figures), figures


def test_chat_json_record_and_no_reasoning(served):
    url, _ = served
    result = run("chat", "讲个笑话", "--endpoint", url + "/lm/v2/chat/completions", "-m", "deepseek-r1",
                 "--json", "--no-reasoning")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # exactly one record, nothing else on stdout
    text, reasoning, usage = expected("讲个笑话", "deepseek-r1")
    assert record["text"] == text and record["reasoning"] is None  # lm_v2's inline <think> was split off
    assert reasoning not in result.stdout + result.stderr
    assert record["usage"]["output_tokens"] == usage["completion_tokens"]
    assert record["usage"]["input_tokens"] == usage["prompt_tokens"]
    assert (record["dialect"], record["model"], record["finish_reason"]) == ("lm_v2", "deepseek-r1", "stop")
    assert 0 <= record["time_to_first_token_s"] <= record["elapsed_s"]
    assert record["tokens_per_s"] > 0


def test_chat_from_curl_sends_like_the_vendor_curl(emulator, tmp_path):
    emulator.state.api_key = "4f2d383beb34439694efa18adf908b9d"  # the token in seed 000's curl
    curl = fixture_text("seed000_ias_curl.txt").replace("http://xxx.xxx.xxx.xxx:18063", emulator.url)
    (tmp_path / "vendor.sh").write_text(curl, encoding="utf-8")
    result = run("chat", "你好", "--from-curl", str(tmp_path / "vendor.sh"), "--no-stream")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected("你好", "Qwen-NLP-72B")[0] + "\n"
    sent = emulator.requests[-1]
    assert sent.headers["authorization"] == "4f2d383beb34439694efa18adf908b9d"  # raw token, no Bearer
    assert (sent.json["model"], sent.json["temperature"], sent.json["modelVersion"]) == ("Qwen-NLP-72B", 0.95, "")


def test_conversation_from_a_pipe_keeps_history_until_reset(served):
    url, _ = served
    result = run("chat", "--base-url", url + "/v1", "-m", "qwen", "--json",
                 stdin="第一个问题\n第二个\n/reset\n第三个\n/exit\n这行不会发送\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["prompt"] for r in records] == ["第一个问题", "第二个", "第三个"]
    first_answer = records[0]["text"]
    # the emulator counts every character of every message as a prompt token
    assert records[1]["usage"]["input_tokens"] == len("第一个问题") + len(first_answer) + len("第二个")
    assert records[2]["usage"]["input_tokens"] == len("第三个")
    assert "conversation cleared" in result.stderr


def test_a_failed_turn_is_reported_and_the_conversation_goes_on(emulator):
    emulator.fault(Fault(status=503, times=1))
    result = run("chat", "--base-url", emulator.base_url, "-m", "qwen", "--json", stdin="第一个\n第二个\n")
    assert result.returncode == EXIT["server"], result.stderr  # a script reading a pipe notices the failure
    assert [json.loads(line)["prompt"] for line in result.stdout.splitlines()] == ["第二个"]
    assert result.stderr.count("domestic-llm: error: ") == 1 and "HTTP 503" in result.stderr
    assert emulator.requests[-1].json["messages"] == [{"role": "user", "content": "第二个"}]  # failed turn not kept


class Pty:
    """A child process on a pseudo-terminal: what a person at a terminal sees and types."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()

        def controlling_terminal() -> None:  # as a login shell would: Ctrl-C on the terminal sends SIGINT
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                     preexec_fn=controlling_terminal)
        os.close(slave)
        self.seen = b""

    def expect(self, text: str, timeout: float = 60) -> str:
        """Read until `text` appears; return everything read up to and including it."""
        want = text.encode()
        deadline = time.monotonic() + timeout
        while want not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not seen; got {self.seen.decode('utf-8', 'replace')!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    data = b""
                if not data and self.proc.poll() is not None:
                    raise AssertionError(f"exited before {text!r}: {self.seen.decode('utf-8', 'replace')!r}")
                self.seen += data
        end = self.seen.index(want) + len(want)
        out, self.seen = self.seen[:end], self.seen[end:]
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))  # drop colour/cursor codes

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def close(self) -> None:
        os.close(self.master)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def test_interactive_conversation_through_a_terminal(emulator):
    term = Pty([*CLI, "chat", "--base-url", emulator.base_url, "--model", "deepseek-r1"],
               clean_env(TERM="xterm"))
    try:
        banner = term.expect(">>> ")
        assert "/reset" in banner and "/exit" in banner and "deepseek-r1" in banner
        term.send("你好X\x7f\r")  # line editing: a typo removed with backspace
        shown = term.expect(">>> ")
        text, reasoning, usage = expected("你好", "deepseek-r1")
        assert f"[reasoning] {reasoning}" in shown
        assert text in shown and shown.index(reasoning) < shown.index(text)
        assert re.search(r"tokens: \d+ in, \d+ out \(\d+ reasoning\), \d+ total · first token \d+\.\d\d s", shown)
        assert emulator.requests[-1].json["messages"] == [{"role": "user", "content": "你好"}]
        term.send("bc\x1b[D\x1b[Da\r")  # arrow keys: "bc", left twice, "a" → "abc"
        term.expect(">>> ")
        sent = emulator.requests[-1].json["messages"]
        assert [m["content"] for m in sent] == ["你好", text, "abc"]  # the conversation is kept
        term.send("/reset\r")
        assert "conversation cleared" in term.expect(">>> ")
        term.send("\x1b[A\x1b[A\r")  # history: up twice recalls "abc" (the line before /reset)
        term.expect(">>> ")
        assert emulator.requests[-1].json["messages"] == [{"role": "user", "content": "abc"}]
        abc_answer = expected("abc", "deepseek-r1")[0]
        emulator.state.delay = 0.3  # a slow answer (0.3 s per event), interrupted with Ctrl-C
        term.send("慢一点\r")
        term.expect("[reasoning]")
        term.send("\x03")
        assert "[interrupted: this turn is not kept]" in term.expect(">>> ")
        emulator.state.delay = 0.0
        term.send("ok\r")
        term.expect(">>> ")
        assert [m["content"] for m in emulator.requests[-1].json["messages"]] == ["abc", abc_answer, "ok"]
        assert len(emulator.requests) == 5
        term.send("\x04")  # Ctrl-D ends the conversation cleanly
        assert term.proc.wait(timeout=20) == 0
    finally:
        term.close()


# ---- errors ----------------------------------------------------------------------------------

def test_refused_connection_is_one_line_and_exit_connection():
    result = run("chat", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert result.stdout == ""
    assert_one_line_error(result, EXIT["connection"], "connection refused", "127.0.0.1:9", "--base-url")


def test_debug_adds_the_traceback():
    result = run("--debug", "chat", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert result.returncode == EXIT["connection"]
    assert "Traceback" in result.stderr and "APIConnectionError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("domestic-llm: error: connection refused")


@pytest.mark.parametrize(("args", "words"), [
    (["--base-url", "127.0.0.1:8000/v1", "--model", "m"], ["--base-url", "must start with http://"]),
    (["--base-url", "http://127.0.0.1:99999/v1", "--model", "m"], ["--base-url", "not a valid URL"]),
    (["--base-url", "http://127.0.0.1:8000/v1"], ["no model", "--model"]),
    ([], ["no endpoint", "--base-url", "DOMESTIC_LLM_BASE_URL"]),
], ids=["no-scheme", "bad-port", "no-model", "no-endpoint"])
def test_usage_errors_are_caught_before_sending(args, words, capsys, monkeypatch):
    # in-process (no server is involved and nothing is sent): the same entry point as the script
    from domestic_llm.cli import main

    for name in [k for k in os.environ if k.startswith("DOMESTIC_LLM_")]:
        monkeypatch.delenv(name)
    with pytest.raises(SystemExit) as info:
        main(["chat", "hi", *args])
    out, err = capsys.readouterr()
    result = subprocess.CompletedProcess(["domestic-llm"], info.value.code, out, err)
    assert_one_line_error(result, EXIT["usage"], *words)


def test_wrong_token_exits_auth(emulator):
    emulator.state.api_key = SECRET
    result = run("chat", "hi", "--endpoint", emulator.endpoint("pangu_v2"), "-m", "m", "--api-key", "sk-wrong")
    line = assert_one_line_error(result, EXIT["auth"], "401", "--api-key", "DOMESTIC_LLM_API_KEY")
    assert "sk-wrong" not in line


def test_server_error_exits_server_with_request_id(emulator):
    emulator.fault(Fault(status=500, times=1))
    result = run("chat", "hi", "--base-url", emulator.base_url, "-m", "m")
    assert_one_line_error(result, EXIT["server"], "HTTP 500", "emulated failure 500", "request id emu-error")


def test_stalled_stream_times_out(emulator):
    emulator.fault(Fault(stall_after_chunks=2))
    result = run("chat", "hi", "--base-url", emulator.base_url, "-m", "m", "--timeout", "1")
    assert_one_line_error(result, EXIT["timeout"], "--timeout")


# ---- curl2py ---------------------------------------------------------------------------------

def test_curl2py_code_reads_the_secret_from_the_environment_and_works(emulator, monkeypatch):
    token = "4f2d383beb34439694efa18adf908b9d"
    curl = fixture_text("seed000_ias_curl.txt").replace("http://xxx.xxx.xxx.xxx:18063", emulator.url)
    result = run("curl2py", "-", stdin=curl)
    assert result.returncode == 0, result.stderr
    source = result.stdout
    assert token not in source + result.stderr
    assert "DOMESTIC_LLM_API_KEY" in result.stderr
    compile(source, "generated.py", "exec")
    # run the generated code (not as __main__: its demo calls stay off) and use what it built
    emulator.state.api_key = token
    monkeypatch.setenv("DOMESTIC_LLM_API_KEY", token)
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(source, namespace)
    chat, llm = namespace["chat"], namespace["llm"]
    assert chat.invoke("你好").content == expected("你好", "Qwen-NLP-72B")[0]  # type: ignore[attr-defined]
    assert llm.complete("你好").text == expected("你好", "Qwen-NLP-72B")[0]  # type: ignore[attr-defined]
    for sent in emulator.requests:
        assert sent.headers["authorization"] == token
        assert sent.json["temperature"] == 0.95 and sent.json["top_p"] == 0.7 and sent.json["modelVersion"] == ""


def test_every_command_has_help_with_an_example():
    from click.testing import CliRunner

    from domestic_llm.cli.app import cli

    runner = CliRunner()
    for name in ["", *cli.commands]:
        result = runner.invoke(cli, [*([name] if name else []), "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output and "domestic-llm " in result.output, name


def test_importing_the_library_does_not_load_the_cli():
    code = ("import sys, domestic_llm; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] == ['domestic_llm', 'cli']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
