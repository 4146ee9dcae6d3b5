"""The `openai` dialect as a pure function: seed 003 fixtures, request shaping, stream quirks."""

from __future__ import annotations

import json

from domestic_llm.dialects import get_dialect, infer_dialect
from domestic_llm.dialects.base import ParseOptions
from domestic_llm.types import ChatRequest, Message, ToolCall

from .helpers import fixture_bytes, fixture_json, run_stream

OPENAI = get_dialect("openai")
OPTS = ParseOptions()


def sse(*objs) -> bytes:
    return "".join(f"data: {o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)}\n\n" for o in objs).encode()


def test_seed003_response():
    result = OPENAI.parse_response(fixture_json("seed003_openai_response.json"), OPTS)
    # the model was served without its chat template: the leaked trailing role line is trimmed
    assert result.text == "\n你叫李聪明。这是我根据之前的对话信息得知的。"
    raw = OPENAI.parse_response(fixture_json("seed003_openai_response.json"), ParseOptions(trim_role_leaks=False))
    assert raw.text == "\n你叫李聪明。这是我根据之前的对话信息得知的。\nuser\n"
    assert result.choices[0].finish_reason == "stop"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (277, 25, 302)
    assert result.metadata["id"] == "209" and result.metadata["model"] == "qwen1.5-14b"


def test_seed003_stream_line_without_done_is_incomplete_but_parsed():
    out = run_stream("openai", fixture_bytes("seed003_openai_stream.txt"))
    assert out.text == "节点"
    assert out.complete is False  # no [DONE], no finish reason: the client raises StreamInterruptedError


def test_request_body_and_headers():
    req = ChatRequest(
        model="qwen1.5-14b",
        messages=[Message("system", "你是一个有用的助手."), Message("user", "如何养生？")],
        params={"temperature": 0.5, "top_p": 0.85, "max_tokens": 256, "n": 10, "logprobs": True,
                "stop": "<|im_end|>", "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2,
                "top_k": 5, "top_logprobs": None},
        extra_body={"repetition_penalty": 1.05},
    )
    http = OPENAI.build_request(req, url="http://h/v1/chat/completions", stream=True,
                                headers=OPENAI.auth_headers("sk-1"), options=OPTS)
    assert http.headers == {"Authorization": "Bearer sk-1"}
    body = http.json
    assert body["messages"] == [{"role": "system", "content": "你是一个有用的助手."}, {"role": "user", "content": "如何养生？"}]
    for key, value in {"temperature": 0.5, "top_p": 0.85, "max_tokens": 256, "n": 10, "logprobs": True,
                       "stop": "<|im_end|>", "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2,
                       "repetition_penalty": 1.05}.items():
        assert body[key] == value, key
    assert body["top_k"] == 5 and "top_logprobs" not in body  # vLLM takes top_k; None is never sent
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "chat_template_kwargs" not in body  # the thinking switch is the family table's: tests/test_families.py


def test_unsupported_param_is_an_error_naming_it():
    import pytest

    from domestic_llm.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="penalty_score=1.2.*repetition_penalty"):
        OPENAI.validate(ChatRequest(model="m", messages=[Message("user", "q")], params={"penalty_score": 1.2}))


def test_no_stream_options_when_usage_not_wanted_and_no_auth_without_key():
    req = ChatRequest(model="m", messages=[Message("user", "hi")])
    http = OPENAI.build_request(req, url="u", stream=True, headers=OPENAI.auth_headers(None),
                                options=ParseOptions(include_usage=False))
    assert "stream_options" not in http.json and http.headers == {}


def test_tool_turns_on_the_wire():
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", "add"),
            Message("assistant", "", tool_calls=[ToolCall("c1", "add", '{"a":1}')], reasoning="think"),
            Message("tool", "2", tool_call_id="c1"),
        ],
        tools=[{"type": "function", "function": {"name": "add", "parameters": {}}}],
        tool_choice="any",
    )
    body = OPENAI.build_request(req, url="u", stream=False, headers={}, options=OPTS).json
    assistant = body["messages"][1]
    assert assistant["content"] == "" and "reasoning_content" not in assistant
    assert assistant["tool_calls"] == [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a":1}'}}]
    assert body["messages"][2] == {"role": "tool", "content": "2", "tool_call_id": "c1"}
    # "some tool" with one tool bound is that tool, named (servers that ignore "required" honour it)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    req.tools = req.tools * 2
    body = OPENAI.build_request(req, url="u", stream=False, headers={}, options=OPTS).json
    assert body["tool_choice"] == "required"
    req.tool_choice = "add"
    req.send_reasoning = True
    body = OPENAI.build_request(req, url="u", stream=False, headers={}, options=OPTS).json
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert body["messages"][1]["reasoning_content"] == "think"


def test_stream_reasoning_both_field_names_null_choices_null_delta_and_final_usage():
    head = {"id": "r1", "model": "m"}
    data = sse(
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {**head, "choices": [{"index": 0, "delta": {"reasoning_content": "想"}}]},
        {**head, "choices": [{"index": 0, "delta": {"reasoning": "一想"}}]},
        {**head, "choices": [{"index": 0, "delta": None}]},
        {**head, "choices": None},
        {**head, "choices": [{"index": 0, "delta": {"content": "答案"}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
                                          "completion_tokens_details": {"reasoning_tokens": 2}}},
        "[DONE]",
    )
    out = run_stream("openai", data)
    assert (out.text, out.reasoning) == ("答案", "想一想")
    assert out.final.finish_reason == "stop" and out.complete
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens, out.usage.reasoning_tokens) == (5, 3, 8, 2)
    assert sum(1 for c in out.chunks if c.usage) == 1 and out.chunks[-1].final
    assert out.final.metadata["id"] == "r1"


def test_cumulative_usage_is_reported_once_with_the_last_totals():
    data = sse(*[{"choices": [{"index": 0, "delta": {"content": "x"}}],
                  "usage": {"prompt_tokens": 4, "completion_tokens": i, "total_tokens": 4 + i}} for i in range(1, 6)],
               {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]")
    out = run_stream("openai", data)
    assert [c.usage for c in out.chunks if c.usage] == [out.usage]
    assert (out.usage.output_tokens, out.usage.total_tokens) == (5, 9)


def test_tool_call_deltas_without_index_id_or_arguments_assemble():
    # vLLM's hermes parser: no `index`; `id` only on the first fragment; a fragment without arguments
    data = sse(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "a", "type": "function", "function": {"name": "f"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"arguments": '{"x":'}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"arguments": "1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "[DONE]",
    )
    out = run_stream("openai", data)
    calls: dict[int, dict] = {}
    for c in out.chunks:
        for d in c.tool_calls:
            call = calls.setdefault(d.index, {"id": None, "name": "", "args": ""})
            call["id"] = call["id"] or d.id
            call["name"] += d.name or ""
            call["args"] += d.arguments or ""
    assert calls == {0: {"id": "a", "name": "f", "args": '{"x":1}'}, 1: {"id": "b", "name": "g", "args": "{}"}}
    assert out.final.finish_reason == "tool_calls"


def test_error_object_inside_stream_raises():
    from domestic_llm.errors import ServerError

    data = sse({"error": {"message": "engine died", "code": 500}})
    try:
        run_stream("openai", data)
    except ServerError as exc:
        assert exc.server_message == "engine died" and exc.code == "500"
    else:
        raise AssertionError("no error raised")


def test_dialect_inference_from_paths():
    assert infer_dialect("http://127.0.0.1:1025/v1/chat/completions").name == "openai"
    assert infer_dialect("http://127.0.0.1:1025/generate").name == "tgi"  # seed 003: TGI and MindIE
    assert infer_dialect("http://127.0.0.1:1025/health") is None
