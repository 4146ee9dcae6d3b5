"""TextGuard: stop sequences, template markers and trailing role lines, whatever the chunking."""

from __future__ import annotations

import pytest

from domestic_llm.templates import BUILTIN
from domestic_llm.textguard import TextGuard, guard_text

CHATML = BUILTIN["chatml"]


def fed_in_pieces(text: str, cuts: list[int], stops=(), markers=(), roles=False) -> str:
    guard = TextGuard(stops, markers, roles)
    bounds = [0, *cuts, len(text)]
    return "".join(guard.feed(text[a:b]) for a, b in zip(bounds, bounds[1:])) + guard.flush()


@pytest.mark.parametrize(("text", "expected"), [
    ("\n你叫李聪明。这是我根据之前的对话信息得知的。\nuser\n", "\n你叫李聪明。这是我根据之前的对话信息得知的。"),  # seed 003
    ("答案。\nassistant", "答案。"),
    ("答案。\n  User  \n", "答案。"),
    ("Please ask the user\nfor details.", "Please ask the user\nfor details."),  # the word alone is not a leak
    ("List of roles:\nuser\nadmin", "List of roles:\nuser\nadmin"),  # not trailing
    ("the user", "the user"),
    ("\nusers\n", "\nusers\n"),
])
def test_trailing_role_lines(text, expected):
    assert guard_text(text, trim_role_lines=True) == expected
    assert guard_text(text) == text  # the setting off: untouched


def test_stop_markers_and_leaks_together():
    text = "好的，明白了。<|im_end|>\n<|im_start|>user\n再见"
    assert guard_text(text, CHATML.stop, CHATML.markers, True) == "好的，明白了。"
    assert guard_text("无标记的回答", CHATML.stop, CHATML.markers, True) == "无标记的回答"
    baichuan = BUILTIN["baichuan2"]  # <reserved_107> is a marker (deleted), <reserved_106> a stop
    assert guard_text("<reserved_107>红、绿、蓝<reserved_106>下一问", baichuan.stop, baichuan.markers) == "红、绿、蓝"


def test_hold_back_is_bounded_by_the_longest_marker():
    guard = TextGuard(CHATML.stop, CHATML.markers, True)
    shown = guard.feed("回答<|im_")  # could still become <|im_end|>
    assert shown == "回答"
    assert len(guard.pending) <= max(len(m) for m in CHATML.markers)
    assert guard.feed("x") == "<|im_x"  # it did not: released as text


TEXTS = [
    "\n你叫李聪明。这是我根据之前的对话信息得知的。\nuser\n",
    "好的<|im_start|>，明白了。<|im_end|>\n<|im_start|>user\n再见",
    "Please ask the user\nfor details.\nassistant",
    "<think>想一想</think>答：<|endoftext|>",
]


@pytest.mark.parametrize("text", TEXTS)
def test_every_cut_gives_the_whole_text_result(text):
    whole = guard_text(text, CHATML.stop, CHATML.markers, True)
    for i in range(len(text) + 1):
        assert fed_in_pieces(text, [i], CHATML.stop, CHATML.markers, True) == whole, i
    assert fed_in_pieces(text, list(range(1, len(text))), CHATML.stop, CHATML.markers, True) == whole
    for marker in CHATML.markers:
        assert marker not in whole
