"""Inline <think> splitting: tags split across chunks, missing tags, no hold-back of plain text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domestic_llm.thinking import ThinkSplitter, split_think_text


def stream(pieces, **kw):
    sp = ThinkSplitter(**kw)
    r, a = [], []
    for p in pieces:
        x, y = sp.feed(p)
        r.append(x), a.append(y)
    x, y = sp.flush()
    return "".join(r) + x, "".join(a) + y, sp


@pytest.mark.parametrize("pieces", [["<think>\n想一想\n</think>\n\n答案"], ["<think>\n想一想\n", "</think>\n\n答案"],
                                    ["<think>\n想", "一想\n\n", " </th", "ink>答案"], ["<think>想一想 \n"]])
def test_reasoning_loses_its_layout_newlines_at_both_ends(pieces):
    reasoning, answer, _ = stream(pieces)
    assert reasoning == "想一想" and answer in ("答案", "")


def test_whitespace_inside_reasoning_survives_chunk_edges():
    assert stream(["<think>a \n", "b\n", "\nc</think>d"])[:2] == ("a \nb\n\nc", "d")


def test_tag_split_across_chunks():
    assert stream(["<thi", "nk>\n想一", "想</th", "ink>\n\n答案"])[:2] == ("想一想", "答案")


def test_no_tag_passes_through_immediately():
    sp = ThinkSplitter()
    assert sp.feed("你好") == ("", "你好")
    assert sp.feed("，世界") == ("", "，世界")


def test_only_a_possible_tag_prefix_is_held_back():
    sp = ThinkSplitter()
    assert sp.feed("答案是 a <") == ("", "答案是 a ")  # '<' might start '</think>'
    assert sp.feed(" b") == ("", "< b")


def test_reasoning_is_released_while_the_close_tag_is_still_possible():
    sp = ThinkSplitter()
    assert sp.feed("<think>abc</") == ("abc", "")
    assert sp.feed("thin") == ("", "")
    assert sp.feed("k>ok") == ("", "ok")


def test_missing_opening_tag_non_streamed():
    assert split_think_text("推理过程\n</think>\n\n答案") == ("推理过程", "答案")


def test_starts_open_streams_reasoning_first():
    assert stream(["推理", "过程</think>", "答案"], starts_open=True)[:2] == ("推理过程", "答案")


def test_orphan_close_in_stream_is_removed_and_flagged():
    r, a, sp = stream(["推理", "</think>", "答案"])
    assert (r, a) == ("", "推理答案") and sp.orphan_close


def test_drop_mode_discards_reasoning():
    assert split_think_text("<think>x</think>y", "drop") == ("", "y")


def test_keep_mode_leaves_text_alone():
    assert split_think_text("<think>x</think>y", "keep") == ("", "<think>x</think>y")


def test_unterminated_think_is_all_reasoning():
    assert stream(["<think>still thinking"])[:2] == ("still thinking", "")


def test_seed001_non_streamed_think_answer():
    from domestic_llm.jsonlenient import loads_lenient

    from .helpers import fixture_text

    body, recovered = loads_lenient(fixture_text("seed001_lm_v2_think_response.json"))  # the seed's JSON is damaged
    assert recovered
    content = body["choices"][0]["message"]["content"]
    reasoning, answer = split_think_text(content)
    assert reasoning.startswith("今天是星期一，我需要确定“后台”是星期几。")
    assert reasoning.rstrip().endswith("以便我能够给出准确的答案。")
    assert answer == "今天是星期一，但“后台”并不是一个具体的日期或星期几。如果您是指某个特定的日子或事件，请提供更多的信息，以便我能够准确回答。"


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="ab<>/thinkn \n长", max_size=20),
    st.text(alphabet="ab<>/thinkn \n江", max_size=20),
    st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_streamed_split_equals_whole_split(reasoning, answer, cuts):
    text = f"<think>{reasoning.replace('</think>', '')}</think>{answer}"
    points = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    pieces = [text[a:b] for a, b in zip(points, points[1:])]
    assert stream(pieces)[:2] == split_think_text(text)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_whitespace_only(text):
    assert stream([text])[:2] == ("", "") or stream([text])[1] == text
