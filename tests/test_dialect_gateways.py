"""Gateway dialects as pure functions, on the seeds' own examples."""

from __future__ import annotations

import random

import pytest

from domestic_llm.dialects import get_dialect
from domestic_llm.dialects.base import ParseOptions
from domestic_llm.dialects.lm_v2 import fold_messages
from domestic_llm.errors import ConfigurationError
from domestic_llm.jsonlenient import loads_lenient
from domestic_llm.types import ChatRequest, Message

from .helpers import fixture_bytes, fixture_text, run_stream


def parse(dialect: str, name: str):
    d = get_dialect(dialect)
    body, _ = loads_lenient(fixture_text(name))
    return d.parse_response(body, ParseOptions(think_tags=d.think_tags))


def assert_split_invariant(dialect: str, name: str, samples: int = 150):
    data = fixture_bytes(name)
    whole = run_stream(dialect, data)
    rng = random.Random(name)
    offsets = range(len(data) + 1) if len(data) < 4000 else rng.sample(range(len(data) + 1), samples)
    for cut in offsets:
        part = run_stream(dialect, data, [cut])
        assert (part.text, part.reasoning, part.usage, part.final.finish_reason) == (
            whole.text, whole.reasoning, whole.usage, whole.final.finish_reason), cut
    for _ in range(50):
        cuts = rng.sample(range(len(data)), k=20)
        part = run_stream(dialect, data, cuts)
        assert (part.text, part.reasoning, part.usage) == (whole.text, whole.reasoning, whole.usage)
    return whole


# ---- seed 000: ias ----------------------------------------------------------------------

def test_seed000_ias_stream():
    out = assert_split_invariant("ias", "seed000_ias_stream.txt")
    assert out.text == "你好！有什么可以帮助你的吗？" and out.reasoning == ""
    assert out.complete and out.final.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (30, 8, 38)
    meta = out.final.metadata
    assert meta["app_id"] == "564866165928038400"
    assert meta["global_trace_id"] == "b904eeb3-cb78-4ece-befd-ba9fb39daff0"
    assert "sensitive_word" not in meta


def test_ias_sensitive_word_flag_and_raw_auth():
    data = fixture_bytes("seed000_ias_stream.txt").replace(b'"content":"\xe5\x90\x97","isSensitiveWord":false',
                                                           b'"content":"\xe5\x90\x97","isSensitiveWord":true')
    assert run_stream("ias", data).final.metadata["sensitive_word"] is True
    assert get_dialect("ias").auth_headers("4f2d") == {"Authorization": "4f2d"}


# ---- seed 001: lm_v2 --------------------------------------------------------------------

def test_seed001_non_streamed_answer_without_reasoning():
    result = parse("lm_v2", "seed001_lm_v2_response_split.txt")
    assert result.text.startswith("北京是中华人民共和国的首都") and result.text.endswith("有许多值得一游的景点和活动。")
    assert result.reasoning == "" and result.choices[0].finish_reason is None
    assert result.usage is None  # the seed prints usage in a separate, detached block


def test_seed001_non_streamed_think_answer():
    result = parse("lm_v2", "seed001_lm_v2_think_response.json")
    assert result.reasoning.startswith("今天是星期一，我需要确定“后台”是星期几。")
    assert "</think>" not in result.text and "<think>" not in result.reasoning
    assert result.text.startswith("今天是星期一，但“后台”并不是一个具体的日期或星期几。")
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (12, 230, 242)


def test_seed001_stream_is_elided_in_the_document():
    out = assert_split_invariant("lm_v2", "seed001_lm_v2_stream.txt")
    assert out.text == "Hello"
    assert not out.complete  # the seed writes `.....` and a bare `[DONE]`: the client raises StreamInterruptedError


def test_seed001_damaged_think_stream_loses_nothing_recoverable():
    out = assert_split_invariant("lm_v2", "seed001_lm_v2_think_stream.txt")
    # lines broken across document lines (including the one carrying <think>) cannot be recovered;
    # lines with stray brackets or trailing garbage can, and the stream goes on to its end
    assert out.skipped == 13 and out.complete and out.final.finish_reason == "stop"
    assert out.final.metadata["skipped_lines"] == 13 and out.final.metadata["recovered_lines"] > 50
    assert out.text.startswith("后台 星 期几指的是 哪") and out.text.endswith("今天是星期一。")


def test_lm_v2_folds_conversations_into_odd_alternation():
    folded = fold_messages([
        Message("system", "你是助手"), Message("user", "a"), Message("assistant", "b"),
        Message("user", "c"), Message("user", "d"),
    ])
    assert [(m.role, m.content) for m in folded] == [("user", "你是助手\n\na"), ("assistant", "b"), ("user", "c\n\nd")]
    folded = fold_messages([Message("system", "s"), Message("assistant", "hi"), Message("user", "q")])
    assert [m.role for m in folded] == ["user", "assistant", "user"] and folded[0].content == "s"
    folded = fold_messages([Message("user", "q"), Message("assistant", "", tool_calls=[]),
                            Message("tool", "r1", tool_call_id="1", name="f"), Message("tool", "r2", tool_call_id="2")])
    assert [(m.role, m.content) for m in folded] == [("user", "q"), ("assistant", ""), ("function", "r1\n\nr2")]
    folded = fold_messages([Message("assistant", "hello"), Message("user", "q")])
    assert [(m.role, m.content) for m in folded] == [("user", "继续"), ("assistant", "hello"), ("user", "q")]
    with pytest.raises(ConfigurationError, match="last message"):
        fold_messages([Message("user", "q"), Message("assistant", "a")])


@pytest.mark.parametrize(
    ("param", "value", "fragment"),
    [("temperature", 1.5, "(0.0, 1.0]"), ("temperature", -0.1, "(0.0, 1.0]"), ("top_p", 1.2, "[0.0, 1.0]"),
     ("penalty_score", 0.5, "[1.0, 2.0]"), ("frequency_penalty", 3, "[-2.0, 2.0]"),
     ("presence_penalty", -2.5, "[-2.0, 2.0]")],
)
def test_lm_v2_ranges_are_checked_before_sending(param, value, fragment):
    with pytest.raises(ConfigurationError) as info:
        get_dialect("lm_v2").validate(ChatRequest("m", [Message("user", "q")], params={param: value}))
    assert param in str(info.value) and repr(value) in str(info.value) and fragment in str(info.value)


def test_lm_v2_request_shape_and_greedy_temperature(caplog):
    d = get_dialect("lm_v2")
    req = ChatRequest("m", [Message("user", "q")], params={"temperature": 0, "max_tokens": 10, "top_k": 5,
                                                             "penalty_score": 1.2})
    body = d.build_request(req, url="u", stream=True, headers={}, options=ParseOptions()).json
    assert body["temperature"] == 0.01 and body["max_completion_tokens"] == 10 and "max_tokens" not in body
    assert body["top_k"] == 5 and body["penalty_score"] == 1.2 and body["stream_options"] == {"include_usage": True}
    with pytest.raises(ConfigurationError, match="n=3"):
        d.validate(ChatRequest("m", [Message("user", "q")], params={"n": 3}))


# ---- seed 002: pangu ----------------------------------------------------------------------

def test_seed002_non_streamed():
    result = parse("pangu_v2", "seed002_pangu_response.json")
    assert result.text == "你好!有什么我可以帮助你的吗?" and result.choices[0].finish_reason == "stop"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (64, 9, 73)
    result = parse("pangu_v2", "seed002_pangu_reasoning_response.json")
    assert result.text == "\n\n你好!很高兴见到你,有什么我可以帮忙的吗?"
    assert result.reasoning.startswith("嗯,用户发来“你好”") and result.reasoning.endswith("确保回复准确无误。\n")
    assert result.usage.total_tokens == 377


@pytest.mark.parametrize(("dialect", "name", "text"), [
    ("pangu_v1", "seed002_pangu_v1_stream.txt", "你好!有什么我可以帮你的吗?"),
    ("pangu_v2", "seed002_pangu_v2_stream.txt", "你好!有什么我可以帮助你的吗?"),
])
def test_seed002_streams_report_cumulative_usage_once(dialect, name, text):
    out = assert_split_invariant(dialect, name)
    assert out.text == text and out.complete and out.final.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (64, 9, 73)
    assert sum(1 for c in out.chunks if c.usage) == 1


@pytest.mark.parametrize("dialect", ["pangu_v1", "pangu_v2"])
def test_seed002_reasoning_streams(dialect):
    out = assert_split_invariant(dialect, f"seed002_{dialect}_reasoning_stream.txt")
    assert out.reasoning == "好的,用户发来了“你好”,我需要回复他们符合要求。\n"  # the seed elides the middle with `...`
    assert out.text == "\n\n你好!我是华为云开发的盘古大语言模型。有什么可以帮您的?"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (23, 179, 202)


def test_pangu_v1_trailer_usage_is_used_when_chunks_carry_none():
    data = (b'data:{"id":"c","choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
            b'event:{"usage":{"completionTokens":9,"promptTokens":64,"totalTokens":73},"tokens":64}\n\n'
            b"data:[DONE]\n\n")
    out = run_stream("pangu_v1", data)
    assert out.text == "hi" and (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (64, 9, 73)


def test_pangu_v1_moderation_block_in_stream_and_body():
    data = (b'data:{"id":"c","choices":[{"index":0,"message":{"content":"\xe9\x83\xa8\xe5\x88\x86"}}]}\n\n'
            b'data:{"suggestion":"block","reply":"\xe6\x8a\xb1\xe6\xad\x89"}\n\ndata:[DONE]\n\n')
    out = run_stream("pangu_v1", data)
    assert out.text == "部分抱歉" and out.final.finish_reason == "content_filter"
    assert out.final.metadata["moderation_blocked"] is True
    result = get_dialect("pangu_v1").parse_response({"suggestion": "block", "reply": "抱歉"}, ParseOptions())
    assert (result.text, result.choices[0].finish_reason, result.metadata["moderation_blocked"]) == (
        "抱歉", "content_filter", True)


def test_pangu_error_bodies():
    info = get_dialect("pangu_v1").parse_error(400, {"error_msg": "bad token", "error_code": "PANGU.0001",
                                                     "details": [{"x": 1}]})
    assert info.code == "PANGU.0001" and info.message.startswith("bad token")
    info = get_dialect("pangu_v2").parse_error(400, {"error": {"code": "400", "type": "BadRequest",
                                                               "message": "max_tokens too large"}, "id": "req-1"})
    assert (info.code, info.message, info.request_id, info.type) == ("400", "max_tokens too large", "req-1", "BadRequest")


def test_pangu_v1_needs_a_full_endpoint():
    with pytest.raises(ConfigurationError, match="project"):
        get_dialect("pangu_v1").chat_url("https://host")
    assert get_dialect("pangu_v1").auth_headers("MII") == {"X-Auth-Token": "MII"}


def test_insufficient_system_resource_is_flagged():
    data = b'data:{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"insufficient_system_resource"}]}\n\ndata:[DONE]\n\n'
    out = run_stream("pangu_v2", data)
    assert out.final.finish_reason == "insufficient_system_resource" and out.final.metadata["overloaded"] is True


