"""SSE decoder: framing variants, and identical events whatever way the bytes are split."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domestic_llm.sse import SSEDecoder, SSEEvent

from .helpers import FIXTURES, fixture_bytes

STREAM_FIXTURES = sorted(p.name for p in FIXTURES.glob("*stream*.txt") if "curl" not in p.name)


def decode(data: bytes, cuts: list[int] = ()) -> list[SSEEvent]:
    dec = SSEDecoder()
    points = [0, *sorted(set(cuts)), len(data)]
    events = []
    for a, b in zip(points, points[1:]):
        events.extend(dec.feed(data[a:b]))
    events.extend(dec.flush())
    return events


def test_data_with_and_without_space_and_event_lines():
    events = decode(b'event:data\ndata:{"a":1}\n\ndata: {"b":2}\n\n')
    assert events == [SSEEvent("data", '{"a":1}'), SSEEvent(None, '{"b":2}')]


def test_comments_keepalives_retry_and_dataless_events():
    events = decode(b": keep-alive\n\nretry: 3000\n\nevent:{\"usage\":{\"totalTokens\":73}}\n\ndata:[DONE]\n\n")
    assert events == [
        SSEEvent(None, None, None, 3000),
        SSEEvent('{"usage":{"totalTokens":73}}', None),
        SSEEvent(None, "[DONE]"),
    ]


def test_multiline_data_is_joined_with_newlines():
    assert decode(b"data: line1\ndata: line2\n\n") == [SSEEvent(None, "line1\nline2")]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_ends_cr_lf_crlf(eol):
    data = b"data: a" + eol + eol + b"data: b" + eol + eol
    assert [e.data for e in decode(data)] == ["a", "b"]
    # the CR of a CRLF arriving at the end of one read must not produce a blank line
    for cut in range(len(data) + 1):
        assert [e.data for e in decode(data, [cut])] == ["a", "b"]


def test_unicode_line_separators_inside_json_are_not_line_ends():
    payload = '{"content":"a\u2028b\u2029c\x85d"}'
    events = decode(f"data: {payload}\n\n".encode())
    assert events == [SSEEvent(None, payload)]


def test_utf8_character_split_across_reads():
    data = "data: 长江\n\n".encode()
    for cut in range(len(data) + 1):
        assert decode(data, [cut]) == [SSEEvent(None, "长江")]


def test_last_event_without_blank_line_is_flushed():
    assert decode(b"data: tail") == [SSEEvent(None, "tail")]


@pytest.mark.parametrize("name", STREAM_FIXTURES)
def test_every_fixture_gives_identical_events_at_every_split(name):
    data = fixture_bytes(name)
    whole = decode(data)
    assert whole, name
    for cut in range(len(data) + 1):
        assert decode(data, [cut]) == whole, (name, cut)


@pytest.mark.parametrize("name", STREAM_FIXTURES)
def test_every_fixture_gives_identical_events_at_random_multisplits(name):
    data = fixture_bytes(name)
    whole = decode(data)
    rng = random.Random(name)
    for _ in range(200):
        cuts = rng.sample(range(len(data)), k=min(len(data), rng.randint(1, 40)))
        assert decode(data, cuts) == whole


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30), st.sampled_from(STREAM_FIXTURES))
def test_split_invariance_property(cuts, name):
    data = fixture_bytes(name)
    assert decode(data, [c % (len(data) + 1) for c in cuts]) == decode(data)


@pytest.mark.parametrize("reads", [
    # one whole `data:` event per read: the decoder's fast path
    [b"data: {\"a\":1}\n\n", b"data:{\"b\":2}\n\n", b"data: [DONE]\n\n"],
    # the same reads after state the fast path must not skip: a pending id/event/data line,
    # a partial line, a CR at the end of the previous read
    [b"id: 7\n", b"data: x\n\n", b"data: y\n\n"],
    [b"event: delta\n", b"data: x\n\n", b"data: y\n\n"],
    [b"data: first\n", b"data: x\n\n", b"data: y\n\n"],
    [b"data: par", b"data: x\n\n", b"data: y\n\n"],
    [b"data: a\r", b"\ndata: x\n\n", b"data: y\n\n"],
    [b"data: a\r\n\r\n", b"data: x\r\n\r\n", b"data: \xe4\xbd\xa0\n\n"],
    [b"data: two\n\ndata: events\n\n", b": keep-alive\n\n", b"data:  spaced\n\n"],
])
def test_whole_event_reads_decode_as_the_byte_by_byte_path(reads):
    whole = SSEDecoder()
    fast = [e for raw in reads for e in whole.feed(raw)] + whole.flush()
    slow_decoder = SSEDecoder()
    slow = [e for raw in reads for i in range(len(raw)) for e in slow_decoder.feed(raw[i:i + 1])]
    assert fast == slow + slow_decoder.flush()
    assert fast  # every case dispatches something
