"""Token counting without downloads: server /tokenize, a given tokenizer, or the documented estimate."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest
import respx
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages

from domestic_llm import ChatClient
from domestic_llm.errors import APIConnectionError, ConfigurationError, NotFoundError
from domestic_llm.testing.rag import chat_template_ids
from domestic_llm.tokens import MESSAGE_OVERHEAD, REPLY_OVERHEAD, TokenCounter, estimate_tokens, tokenize_url_of
from domestic_llm.types import Message
from langchain_domestic_llm import ChatDomestic

HISTORY = [
    SystemMessage("你是一个乐于助人的助手。"),
    HumanMessage("长江有多长？"),
    AIMessage("长江全长约6300公里。"),
    HumanMessage("黄河呢？"),
    AIMessage("黄河全长约5464公里。"),
    HumanMessage("哪条河更长？"),
]
WIRE = [{"role": r, "content": m.content}
        for r, m in zip(["system", "user", "assistant", "user", "assistant", "user"], HISTORY)]


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connection refused at once, no network involved."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_estimate_is_documented_and_reasonable_for_chinese():
    assert estimate_tokens("") == 0
    assert estimate_tokens("长江全长约6300公里。") == 12  # 7 Hanzi + 4 digits + 1 punctuation mark
    assert estimate_tokens("hello world") == 2
    assert estimate_tokens("internationalization") == 4
    # a real Qwen/DeepSeek tokenizer needs ~0.6-0.75 tokens per Hanzi: the estimate stays above it
    text = "人工智能正在改变我们的生活方式和工作方式。" * 10
    assert 0.75 * len(text) <= estimate_tokens(text) <= 1.05 * len(text)


def test_tokenize_url_is_the_server_root():
    assert tokenize_url_of("http://10.0.0.5:8000/v1/chat/completions?x=1") == "http://10.0.0.5:8000/tokenize"


def test_server_counts_text_and_messages_through_the_chat_template(emulator):
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    assert llm.get_num_tokens("你好 world") == 8  # the emulator's tokenizer: one token per character
    assert llm.get_token_ids("你好") == [ord("你"), ord("好")]
    assert llm.get_num_tokens_from_messages(HISTORY) == len(chat_template_ids(WIRE, True))
    paths = [(r.path, sorted(r.json)) for r in emulator.requests]
    assert paths[0] == ("/tokenize", ["add_special", "add_special_tokens", "content", "model", "prompt"])
    assert paths[-1] == ("/tokenize", ["add_generation_prompt", "messages", "model"])
    assert emulator.requests[-1].json["messages"] == WIRE


def test_trim_messages_with_the_servers_tokenizer(emulator):
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    budget = len(chat_template_ids(WIRE[-3:], True))
    trimmed = trim_messages(HISTORY, max_tokens=budget, token_counter=llm, strategy="last")
    assert trimmed == HISTORY[-3:]
    assert all(r.path == "/tokenize" for r in emulator.requests)


def test_trim_messages_with_no_server_at_all_uses_the_estimate(caplog):
    llm = ChatDomestic(model="qwen-72b", base_url=closed_port_url())
    expected = sum(estimate_tokens(str(m.content)) for m in HISTORY[-2:])
    expected += MESSAGE_OVERHEAD * 2 + REPLY_OVERHEAD
    assert llm.get_num_tokens_from_messages(HISTORY[-2:]) == expected
    trimmed = trim_messages(HISTORY, max_tokens=expected, token_counter=llm, strategy="last")
    assert trimmed == HISTORY[-2:]
    assert "no usable /tokenize" in caplog.text
    with pytest.raises(ConfigurationError, match="token ids need the server's /tokenize or tokenizer="):
        llm.get_token_ids("你好")


def test_no_download_and_no_transformers_or_tiktoken_import():
    # a fresh interpreter where any connection off loopback fails loudly
    script = textwrap.dedent(f"""
        import socket, sys
        real = socket.socket.connect
        def connect(self, address):
            if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost", "::1"):
                raise AssertionError(f"network access to {{address}}")
            return real(self, address)
        socket.socket.connect = connect
        from langchain_core.messages import HumanMessage, SystemMessage, trim_messages
        from langchain_domestic_llm import ChatDomestic
        llm = ChatDomestic(model="qwen-72b", base_url={closed_port_url()!r})
        msgs = [SystemMessage("你好"), HumanMessage("长江有多长？" * 20), HumanMessage("黄河呢？")]
        out = trim_messages(msgs, max_tokens=30, token_counter=llm, strategy="last")
        assert out == msgs[-1:], out
        assert llm.get_num_tokens("你好") == 2
        assert "transformers" not in sys.modules and "tiktoken" not in sys.modules, "tokenizer library imported"
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMESTIC_LLM_")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_a_server_without_tokenize_is_asked_once(emulator):
    emulator.state.rag.tokenize = False  # 404, like a gateway
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    assert llm.get_num_tokens("长江有多长") == estimate_tokens("长江有多长")
    assert llm.get_num_tokens("黄河") == 2
    assert llm.get_num_tokens_from_messages(HISTORY[:2]) > 0
    assert [r.path for r in emulator.requests] == ["/tokenize"]


def test_server_mode_raises_instead_of_estimating(emulator):
    emulator.state.rag.tokenize = False
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, token_counting="server")
    with pytest.raises(NotFoundError) as info:
        llm.get_num_tokens("你好")
    assert info.value.url == emulator.url + "/tokenize"
    llm = ChatDomestic(model="qwen-72b", base_url=closed_port_url(), token_counting="server")
    with pytest.raises(APIConnectionError):
        llm.get_num_tokens("你好")


def test_local_mode_never_asks_the_server(emulator):
    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, token_counting="local")
    assert llm.get_num_tokens("长江") == 2 and emulator.requests == []


@respx.mock
def test_llamacpp_and_sglang_style_servers():
    # llama.cpp: only `content`, answers ids only, and ignores `messages` (answers no tokens)
    client = ChatClient(model="m", base_url="http://10.1.1.1:8080/v1")

    def llamacpp(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        return httpx.Response(200, json={"tokens": list(range(len(body.get("content", ""))))})

    respx.post("http://10.1.1.1:8080/tokenize").mock(side_effect=llamacpp)
    counter = TokenCounter(client)
    assert counter.count_text("你好吗") == 3
    messages = [Message("user", "你好"), Message("assistant", "好")]
    assert counter.count_messages(messages) == len("你好\n好") + MESSAGE_OVERHEAD * 2 + REPLY_OVERHEAD
    # SGLang: `prompt` only; `messages` is a 400
    client = ChatClient(model="m", base_url="http://10.1.1.2:30000/v1")

    def sglang(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        if "prompt" not in body:
            return httpx.Response(400, json={"object": "error", "message": "prompt: Field required"})
        return httpx.Response(200, json={"tokens": [1] * len(body["prompt"]), "count": len(body["prompt"]),
                                         "max_model_len": 4096})

    route = respx.post("http://10.1.1.2:30000/tokenize").mock(side_effect=sglang)
    counter = TokenCounter(client)
    assert counter.count_messages(messages) == len("你好\n好") + MESSAGE_OVERHEAD * 2 + REPLY_OVERHEAD
    assert counter.count_messages(messages) == len("你好\n好") + MESSAGE_OVERHEAD * 2 + REPLY_OVERHEAD
    assert route.call_count == 3  # the 400 on `messages` is remembered


def test_a_tokenizer_callable_or_local_tokenizer_json(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "长江": 1, "黄河": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    llm = ChatDomestic(model="m", base_url=closed_port_url(), tokenizer=str(path))
    assert llm.get_num_tokens("长江 黄河 长江") == 3
    assert llm.get_token_ids("长江 黄河") == [1, 2]
    llm = ChatDomestic(model="m", base_url=closed_port_url(), tokenizer=lambda text: text.split())
    assert llm.get_num_tokens("a b c d") == 4
    with pytest.raises(ConfigurationError, match="no such file"):
        ChatDomestic(model="m", base_url=closed_port_url(), tokenizer=str(tmp_path / "missing.json")).get_num_tokens("x")


def test_llamaindex_tokenizer_hook(emulator):
    import llama_index.core
    from llama_index.core import Settings

    from llamaindex_domestic_llm import DomesticLLM

    llm = DomesticLLM(model="qwen-72b", base_url=emulator.base_url)
    try:
        Settings.tokenizer = llm.as_tokenizer()
        assert Settings.tokenizer("你好") == [ord("你"), ord("好")]
        offline = DomesticLLM(model="qwen-72b", base_url=closed_port_url()).as_tokenizer()
        assert len(offline("长江全长约6300公里。")) == 12
    finally:
        llama_index.core.global_tokenizer = None


def test_counter_survives_copy_and_pickle(emulator):
    import copy
    import pickle

    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    assert llm.get_num_tokens("你好") == 2
    for clone in (copy.deepcopy(llm), pickle.loads(pickle.dumps(llm))):
        assert clone.get_num_tokens("长江") == 2


def test_a_passing_tokenize_failure_is_not_remembered(emulator):
    from domestic_llm.testing import Fault

    llm = ChatDomestic(model="qwen-72b", base_url=emulator.base_url)
    emulator.fault(Fault(status=503))
    assert llm.get_num_tokens("internationalization") == estimate_tokens("internationalization")  # this call: 4
    assert llm.get_num_tokens("internationalization") == 20  # the server again
