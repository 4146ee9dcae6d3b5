"""Property-based robustness: whatever bytes arrive, only the library's own exceptions come out."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domestic_llm.dialects import get_dialect, known_dialects
from domestic_llm.dialects.base import ParseOptions
from domestic_llm.errors import DomesticLLMError
from domestic_llm.jsonlenient import loads_lenient

from .helpers import FIXTURES, fixture_bytes, run_stream

STREAMS = [fixture_bytes(p.name) for p in sorted(FIXTURES.glob("*stream*.txt")) if "curl" not in p.name]
BODIES = [fixture_bytes(p.name) for p in sorted(FIXTURES.glob("*.json"))] + [fixture_bytes("seed001_lm_v2_response_split.txt")]
EXAMPLES = 2000


@st.composite
def mutated(draw, sources):
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "splice"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "truncate":
            del data[at:]
        elif op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[at:at] = draw(st.sampled_from([b"\n\n", b"data:", b"event:", b'{"choices":', b"[DONE]", b"null",
                                                b'"usage":{"prompt_tokens":"x"}', b'{"suggestion":"block"}',
                                                b'"delta":[]', b'"tool_calls":[{"index":"a"}]', b"\r", b"\xe9\x95"]))
    return bytes(data)


def _feed(dialect: str, data: bytes, cuts: list[int]) -> None:
    try:
        run_stream(dialect, data, [c % (len(data) + 1) for c in cuts], ParseOptions(think_tags="split"))
    except DomesticLLMError:
        pass


def _parse_body(dialect: str, data: bytes) -> None:
    try:
        body, _ = loads_lenient(data.decode("utf-8", "replace"))
    except ValueError:
        return
    try:
        get_dialect(dialect).parse_response(body, ParseOptions(think_tags="split"))
    except DomesticLLMError:
        pass


@pytest.mark.parametrize("dialect", known_dialects())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.one_of(mutated(STREAMS), st.binary(max_size=300)), cuts=st.lists(st.integers(0, 10**6), max_size=5))
def test_stream_parser_survives_anything(dialect, data, cuts):
    _feed(dialect, data, cuts)


@pytest.mark.parametrize("dialect", known_dialects())
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(mutated(BODIES), st.binary(max_size=200)))
def test_response_parser_survives_anything(dialect, data):
    _parse_body(dialect, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["choices", "delta", "message", "content", "reasoning_content", "reasoning", "tool_calls",
                         "function", "arguments", "name", "id", "index", "usage", "prompt_tokens", "completion_tokens",
                         "total_tokens", "finish_reason", "error", "code", "suggestion", "reply", "error_code",
                         "completion_tokens_details", "reasoning_tokens", "isSensitiveWord", "model"]),
        inner, max_size=5),
    max_leaves=25,
)


@pytest.mark.parametrize("dialect", known_dialects())
@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(obj=JSON)
def test_well_formed_json_of_any_shape(dialect, obj):
    line = f"data: {json.dumps(obj)}\n\n".encode()
    _feed(dialect, line, [])
    _parse_body(dialect, json.dumps(obj).encode())
