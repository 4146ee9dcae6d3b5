"""The prompt-style dialects `tgi`, `vllm_generate`, `triton` as pure functions (no sockets)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from domestic_llm.client import ChatClient
from domestic_llm.curl import client_kwargs_from_curl
from domestic_llm.dialects import get_dialect
from domestic_llm.dialects.base import ParseOptions
from domestic_llm.dialects.triton import TritonDialect
from domestic_llm.errors import BadRequestError, ConfigurationError
from domestic_llm.templates import BUILTIN
from domestic_llm.testing.dialects import RenderContext
from domestic_llm.testing.prompt_servers import EmulatedTGI, EmulatedTriton, EmulatedVLLMGenerate
from domestic_llm.testing.replies import Reply
from domestic_llm.types import ChatRequest, Message

from .helpers import fixture_json, fixture_text, run_stream

CONVERSATION = [Message("system", "你是一个有用的助手."), Message("user", "你好，我叫李聪明。请问你是谁？"),
                Message("assistant", "你好，李聪明！"), Message("user", "请问我叫什么名字？")]
PROMPT = BUILTIN["chatml"].render(CONVERSATION)
LEAKY = "你叫李聪明。<|im_end|>\n<|im_start|>user\n好的"
MARKERS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "\nuser")


def request(**params) -> ChatRequest:
    return ChatRequest(model="qwen1.5-14b", messages=list(CONVERSATION), params=params)


def options(dialect: str, req: ChatRequest | None = None) -> ParseOptions:
    d = get_dialect(dialect)
    return d.call_options(req or request(), ParseOptions(think_tags=d.think_tags))


def build(dialect, req=None, stream=False, url="http://127.0.0.1:1025"):
    d = get_dialect(dialect) if isinstance(dialect, str) else dialect
    req = req or request()
    d.validate(req)
    return d.build_request(req, url=d.call_url(d.chat_url(url), req, stream), stream=stream, headers={},
                           options=ParseOptions())


# ---- TGI ---------------------------------------------------------------------------------


def test_tgi_request_shape_and_routes():
    http = build("tgi", request(temperature=0.5, top_p=0.95, top_k=10, max_tokens=256, stop=["photographer"],
                                seed=7, frequency_penalty=0.1))
    assert http.url == "http://127.0.0.1:1025/generate"
    assert http.json == {"inputs": PROMPT, "parameters": {
        "temperature": 0.5, "top_p": 0.95, "top_k": 10, "max_new_tokens": 256, "seed": 7, "frequency_penalty": 0.1,
        "stop": ["photographer", "<|im_end|>", "<|endoftext|>", "<|im_start|>"], "details": True}}
    assert build("tgi", stream=True).url == "http://127.0.0.1:1025/generate_stream"
    # a mount prefix, or the full route pasted as endpoint, work the same
    assert build("tgi", stream=True, url="http://h/mindie/").url == "http://h/mindie/generate_stream"
    tgi = get_dialect("tgi")
    assert tgi.call_url("http://h/generate_stream", request(), False) == "http://h/generate"


def test_tgi_greedy_and_limits():
    params = build("tgi", request(temperature=0, top_p=1.0)).json["parameters"]
    assert params["do_sample"] is False and "temperature" not in params and "top_p" not in params
    with pytest.raises(ConfigurationError, match=r"at most 4 stop sequences"):
        build("tgi", request(stop=["a", "b", "c", "d", "e"]))
    with pytest.raises(ConfigurationError, match=r"presence_penalty=0.5 is not accepted by the 'tgi' dialect"):
        build("tgi", request(presence_penalty=0.5))
    with pytest.raises(ConfigurationError, match=r"n=2"):
        build("tgi", request(n=2))
    req = request()
    req.extra_body = {"repetition_penalty": 1.03, "parameters": {"typical_p": 0.95}}
    body = build("tgi", req).json
    assert body["parameters"]["repetition_penalty"] == 1.03 and body["parameters"]["typical_p"] == 0.95
    assert "repetition_penalty" not in body  # TGI parameters given as extra fields go into `parameters`


def test_tgi_response_and_details():
    body = {"generated_text": "你叫李聪明。\nuser\n", "details": {"finish_reason": "eos_token", "generated_tokens": 9,
                                                            "seed": None, "prefill": [], "tokens": []}}
    result = get_dialect("tgi").parse_response(body, options("tgi"))
    assert result.text == "你叫李聪明。"
    assert result.choices[0].finish_reason == "stop" and result.metadata["raw_finish_reason"] == "eos_token"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (0, 9)
    assert result.metadata["input_tokens_unknown"] is True
    cut = get_dialect("tgi").parse_response({"generated_text": "abc", "details": {"finish_reason": "length",
                                                                                  "generated_tokens": 1}}, options("tgi"))
    assert cut.choices[0].finish_reason == "length"


TGI_STREAM = (  # TGI's framing: `data:` without a space, a special end-of-turn token, details on the last event
    'data:{"index":1,"token":{"id":56568,"text":"你叫","logprob":-0.1,"special":false},"generated_text":null,'
    '"details":null}\n\n'
    'data:{"index":2,"token":{"id":100,"text":"李聪明。","logprob":-0.2,"special":false},"generated_text":null,'
    '"details":null}\n\n'
    'data:{"index":3,"token":{"id":151645,"text":"<|im_end|>","logprob":-0.01,"special":true},'
    '"generated_text":"你叫李聪明。","details":{"finish_reason":"eos_token","generated_tokens":3,"seed":null}}\n\n'
).encode()


def test_tgi_stream_special_tokens_never_shown():
    out = run_stream("tgi", TGI_STREAM, options=options("tgi"))
    assert out.text == "你叫李聪明。" and out.complete
    assert out.final.finish_reason == "stop" and out.usage.output_tokens == 3


def test_tgi_stream_error_event():
    data = b'data:{"error":"Input validation error: `inputs` must have less than 4096 tokens","error_type":"validation"}\n\n'
    with pytest.raises(BadRequestError, match="4096 tokens"):
        run_stream("tgi", data, options=options("tgi"))


# ---- vLLM demo server ----------------------------------------------------------------------


def test_vllm_generate_request_and_echo():
    http = build("vllm_generate", request(n=2, temperature=0.0, max_tokens=64))
    assert http.url == "http://127.0.0.1:1025/generate"
    assert http.json == {"prompt": PROMPT, "n": 2, "temperature": 0.0, "max_tokens": 64,
                         "stop": list(BUILTIN["chatml"].stop), "stream": False}
    body = {"text": [PROMPT + "你叫李聪明。", PROMPT + "李聪明。\nuser\n"]}
    result = get_dialect("vllm_generate").parse_response(body, options("vllm_generate"))
    assert [c.text for c in result.choices] == ["你叫李聪明。", "李聪明。"]
    assert result.usage is None  # the demo server reports none: nothing is invented


@pytest.mark.parametrize("sep", ["\0", "\n"])
def test_vllm_generate_cumulative_stream(sep):
    steps = ["你", "你叫李", "你叫李聪明。"]
    data = "".join(json.dumps({"text": [PROMPT + s, PROMPT + s[:1]]}) + sep for s in steps).encode()
    out = run_stream("vllm_generate", data, options=options("vllm_generate"))
    assert "".join(c.text for c in out.chunks if c.choice == 0) == "你叫李聪明。"
    assert "".join(c.text for c in out.chunks if c.choice == 1) == "你"
    assert out.complete


# ---- Triton ------------------------------------------------------------------------------------


def test_triton_request_and_routes():
    http = build("triton", request(max_tokens=20, temperature=0.5, seed=3, stop=["。"]))
    assert http.url == "http://127.0.0.1:1025/v2/models/qwen1.5-14b/generate"
    assert http.json == {"text_input": PROMPT, "max_tokens": 20, "temperature": 0.5, "random_seed": 3,
                         "stop_words": ["。", *BUILTIN["chatml"].stop], "stream": False}
    triton = get_dialect("triton")
    assert triton.call_url("http://h/v2/models/ensemble/generate", request(), True) == (
        "http://h/v2/models/ensemble/generate_stream")
    result = triton.parse_response({"model_name": "ensemble", "model_version": "1",
                                    "text_output": PROMPT + "你叫李聪明。<|im_end|>"}, options("triton"))
    assert result.text == "你叫李聪明。" and result.metadata["model_name"] == "ensemble"


@pytest.mark.parametrize("style", ["delta", "cumulative", "cumulative_echo"])
def test_triton_stream_styles(style):
    pieces = ["你叫", "李聪", "明。"]
    texts, acc = [], PROMPT if style == "cumulative_echo" else ""
    for p in pieces:
        acc += p
        texts.append(p if style == "delta" else acc)
    data = "".join(f'data: {json.dumps({"model_name": "ensemble", "text_output": t})}\n\n' for t in texts).encode()
    assert run_stream("triton", data, options=options("triton")).text == "你叫李聪明。"
    fixed = TritonDialect(stream_output="delta" if style == "delta" else "cumulative")
    assert run_stream(fixed, data, options=options("triton")).text == "你叫李聪明。"


# ---- every stream cut at every byte offset: no marker ever shows -------------------------------


def _emulated_stream(server, body: dict) -> bytes:
    view = server.chat_view(body)
    ctx = RenderContext(body=view, reply=Reply(text=LEAKY, finish_reason="length"), serial=1,
                        path_params={"model": "qwen1.5-14b"},
                        options={"vllm_separator": "\0", "triton_stream": "cumulative"})
    return "".join(server.render_stream(ctx)).encode()


@pytest.mark.parametrize(("dialect", "data"), [
    ("tgi", TGI_STREAM),
    ("tgi", _emulated_stream(EmulatedTGI(), {"inputs": PROMPT, "parameters": {}})),
    ("vllm_generate", _emulated_stream(EmulatedVLLMGenerate(), {"prompt": PROMPT})),
    ("triton", _emulated_stream(EmulatedTriton(), {"text_input": PROMPT})),
    ("openai", b'data: {"choices":[{"index":0,"delta":{"content":"\\n\\u4f60\\u53eb"}}]}\n\n'
               b'data: {"choices":[{"index":0,"delta":{"content":"\\u674e\\u806a\\u660e\\u3002\\nus"}}]}\n\n'
               b'data: {"choices":[{"index":0,"delta":{"content":"er\\n"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'),
])
def test_every_byte_offset(dialect, data):
    opts = options(dialect) if dialect != "openai" else ParseOptions()
    whole = run_stream(dialect, data, options=opts).text
    assert whole.strip() == "你叫李聪明。"
    for offset in range(1, len(data)):
        assert run_stream(dialect, data, [offset], options=opts).text == whole, offset
    assert run_stream(dialect, data, list(range(1, len(data))), options=opts).text == whole  # byte by byte
    for marker in MARKERS:
        assert marker not in whole


# ---- from_curl reads each dialect's own body shape ----------------------------------------------


def test_from_curl_tgi_seed():
    kwargs = client_kwargs_from_curl(fixture_text("seed003_tgi_curl.txt"))
    assert kwargs["endpoint"] == "http://127.0.0.1:1025/generate"
    assert kwargs["params"] == {"frequency_penalty": 0.1, "temperature": 0.5, "top_k": 10, "max_tokens": 256}
    assert kwargs["model_kwargs"] == {"parameters": {"do_sample": True, "top_n_tokens": 5}}
    client = ChatClient.from_curl(fixture_text("seed003_tgi_stream_curl.txt"), model="qwen1.5-14b")
    assert client.dialect.name == "tgi" and client.params == {"max_tokens": 50}


def test_from_curl_mindie_and_tgi_body_fixture():
    kwargs = client_kwargs_from_curl(fixture_text("seed003_mindie_generate_curl.txt"))
    assert kwargs["params"] == {"max_tokens": 64, "temperature": 0.5, "top_p": 0.95, "stop": ["photographer"]}
    assert "stream" not in kwargs["model_kwargs"] and kwargs["model_kwargs"]["parameters"]["best_of"] == 1
    params, extra = get_dialect("tgi").curl_fields(fixture_json("seed003_tgi_request.json"))
    assert params["max_tokens"] == 20 and params["top_k"] == 10 and extra["parameters"]["watermark"] is True


def test_from_curl_vllm_seed_picks_the_dialect_by_body():
    kwargs = client_kwargs_from_curl(fixture_text("seed003_vllm_generate_curl.txt"))
    assert kwargs["dialect"] == "vllm_generate"
    assert kwargs["params"] == {"n": 5, "temperature": 0.0, "max_tokens": 64}
    client = ChatClient.from_curl(fixture_text("seed003_vllm_generate_curl.txt"), model="qwen1.5-14b")
    assert client.dialect.name == "vllm_generate" and client.url == "http://127.0.0.1:1025/generate"


def test_configuration_errors_before_any_request():
    with pytest.raises(ConfigurationError, match=r"cannot infer the chat template of model='glm-4'"):
        ChatClient(model="glm-4", base_url="http://127.0.0.1:1025", dialect="tgi")
    assert ChatClient(model="glm-4", base_url="http://127.0.0.1:1025", dialect="tgi", chat_template="chatml")
    with pytest.raises(ConfigurationError, match=r"chat_template: the 'openai' dialect"):
        ChatClient(model="qwen", base_url="http://127.0.0.1:1025/v1", chat_template="chatml")
    with pytest.raises(ConfigurationError, match=r"stream_output='x'"):
        TritonDialect(stream_output="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="JSON mode"):
        build("triton", replace(request(), response_format={"type": "json_object"}))
