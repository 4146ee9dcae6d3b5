from __future__ import annotations

import pytest

from domestic_llm.jsonlenient import loads_lenient


def test_valid_json_is_not_marked_recovered():
    assert loads_lenient('{"a": [1, 2]}') == ({"a": [1, 2]}, False)


def test_trailing_garbage_after_object_is_recovered():
    # seed 001: `...}]} 台后`
    value, recovered = loads_lenient('{"choices":[{"delta":{"content":"\\n"}}]} 台后')
    assert recovered and value == {"choices": [{"delta": {"content": "\n"}}]}


def test_mismatched_closers_are_rebalanced():
    # seed 001: the delta object closes with `}]` instead of `}}]`
    line = '{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"后"}],"finish_reason":null}]}'
    value, recovered = loads_lenient(line)
    assert recovered
    assert value["choices"][0]["delta"]["content"] == "后"


def test_missing_final_closer_is_added():
    value, recovered = loads_lenient('{"choices":[{"delta":{"content":"今"}],"finish_reason":null}]')
    assert recovered and value["choices"][0]["delta"]["content"] == "今"


def test_brackets_inside_strings_are_left_alone():
    value, _ = loads_lenient('{"content":"a]}b"}]]')
    assert value == {"content": "a]}b"}


@pytest.mark.parametrize(
    "line",
    [
        '{"id":"gd","model":"deepseek-r1-',
        '{"id":"gd","choices":[{"index":0,"delta":{"role":"assistant","content":""}),"finish_reason":null}]',
        "not json",
        "",
    ],
)
def test_unrecoverable_lines_raise_value_error(line):
    with pytest.raises(ValueError):
        loads_lenient(line)


def test_clean_whitespace_and_garbage_take_the_right_path():
    # raw_decode fast path: only an exact object is "not recovered"; whitespace is still plain JSON
    assert loads_lenient('{"a":1}') == ({"a": 1}, False)
    assert loads_lenient(' \n{"a":1} \t') == ({"a": 1}, False)
    assert loads_lenient('{"a":1}]} 台后') == ({"a": 1}, True)
    assert loads_lenient("[1, 2]") == ([1, 2], False)
    with pytest.raises(ValueError):
        loads_lenient("not json")
