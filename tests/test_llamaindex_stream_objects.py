"""Streamed `ChatResponse`s built without validation (the fast path) are the objects pydantic builds.

`llamaindex_domestic_llm._stream` builds the responses of plain text / reasoning chunks
without validation. Every test here runs the same chunks through both paths and asks
for the same objects: equal, same repr, same fields set, same types and key order at
every level, same serialisation, and no state shared between responses.
"""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ThinkingBlock

from domestic_llm.testing import Reply, ScriptedToolCall
from domestic_llm.types import ChatChunk, ToolCallDelta, Usage
from llamaindex_domestic_llm import DomesticLLM, _stream
from llamaindex_domestic_llm._stream import StreamAccumulator, same_objects, text_response, validated_text_response

USAGE = Usage(input_tokens=5, output_tokens=9, total_tokens=14, reasoning_tokens=4)
LOGPROBS = {"content": [{"token": "长", "logprob": -0.25, "bytes": [233]}]}


def both_ways(chunks: list[ChatChunk]) -> tuple[list[ChatResponse | None], list[ChatResponse | None]]:
    fast, validated = StreamAccumulator("openai", fast=True), StreamAccumulator("openai", fast=False)
    return [fast.add(c) for c in chunks], [validated.add(c) for c in chunks]


def assert_same(fast: list[ChatResponse | None], validated: list[ChatResponse | None]) -> None:
    assert len(fast) == len(validated)
    for i, (a, b) in enumerate(zip(fast, validated)):
        assert same_objects(a, b), f"response {i} differs:\n{a!r}\n{b!r}"
        if a is None:
            continue
        assert a == b and repr(a) == repr(b) and str(a) == str(b)
        assert a.model_fields_set == b.model_fields_set
        assert a.message.model_fields_set == b.message.model_fields_set
        assert [blk.model_fields_set for blk in a.message.blocks] == [blk.model_fields_set for blk in b.message.blocks]
        assert a.model_dump() == b.model_dump() and a.model_dump_json() == b.model_dump_json()
        assert a.message.content == b.message.content and a.delta == b.delta
        assert ChatResponse.model_validate(a.model_dump()) == b
        assert same_objects(copy.deepcopy(a), b) and same_objects(pickle.loads(pickle.dumps(a)), b)
        assert same_objects(a.model_copy(), b.model_copy())


SEQUENCES = {
    "text": [ChatChunk(text="长江"), ChatChunk(text=""), ChatChunk(text="黄河"),
             ChatChunk(final=True, finish_reason="stop", usage=USAGE, metadata={"id": "chatcmpl-1"})],
    "reasoning then text": [ChatChunk(reasoning="先想"), ChatChunk(reasoning="一想"), ChatChunk(text="答"),
                            ChatChunk(reasoning="再想", text="案"), ChatChunk(final=True, finish_reason="stop", usage=USAGE)],
    "tool call midway": [ChatChunk(text="查"), ChatChunk(tool_calls=[ToolCallDelta(0, "c1", "get_weather", '{"city"')]),
                         ChatChunk(text="一下"), ChatChunk(tool_calls=[ToolCallDelta(0, None, None, ': "北京"}')]),
                         ChatChunk(final=True, finish_reason="tool_calls")],
    "logprobs midway": [ChatChunk(text="长"), ChatChunk(text="江", logprobs=LOGPROBS), ChatChunk(text="水"),
                        ChatChunk(final=True, finish_reason="stop")],
    "second choice and usage": [ChatChunk(text="a"), ChatChunk(choice=1, text="b"), ChatChunk(reasoning="r", usage=USAGE),
                                ChatChunk(text="c"), ChatChunk(final=True, usage=USAGE)],
    "nothing but the end": [ChatChunk(final=True, finish_reason="stop")],
}


def test_the_fast_path_is_on_with_this_llama_index_core():
    # if a llama-index-core release changed these models, the import-time check turned it off:
    # the answers stay right, but the speed is gone; look at text_response against the new models
    assert _stream.FAST_PATH_AGREES
    assert StreamAccumulator("openai").fast


@pytest.mark.parametrize("name", SEQUENCES)
def test_fast_and_validated_responses_are_the_same_objects(name):
    fast, validated = both_ways(SEQUENCES[name])
    assert_same(fast, validated)


def test_fast_built_responses_share_no_state():
    acc = StreamAccumulator("openai")
    first, second = acc.add(ChatChunk(reasoning="想")), acc.add(ChatChunk(text="答"))
    first.additional_kwargs["mine"] = 1
    first.message.additional_kwargs["mine"] = 1
    first.message.blocks.append(first.message.blocks[0])
    first.message.blocks[0].additional_information["mine"] = 1
    first.delta = "changed"
    assert second.additional_kwargs == {} and second.message.additional_kwargs == {}
    assert [type(b).__name__ for b in second.message.blocks] == ["ThinkingBlock", "TextBlock"]
    assert second.message.blocks[0].additional_information == {}
    assert "delta" in second.model_fields_set and second.delta == "答"
    assert first.model_fields_set is not second.model_fields_set


def test_the_check_tells_objects_apart():
    # same_objects is what turns the fast path off: it must see what == alone would miss
    reference = validated_text_response("答", "", "答", "")
    assert same_objects(text_response("答", "", "答", ""), reference)
    assert not same_objects(text_response("答案", "", "答", ""), reference)
    explicit_raw = ChatResponse(message=reference.message, delta="答", additional_kwargs={}, logprobs=None, raw=None)
    assert explicit_raw == reference and not same_objects(explicit_raw, reference)  # fields set differs
    unordered = ChatResponse(message=ChatMessage(role="assistant", content="答"), delta="答", logprobs=None,
                             additional_kwargs={"b": 1, "a": 2})
    assert not same_objects(unordered, ChatResponse(message=ChatMessage(role="assistant", content="答"), delta="答",
                                                    logprobs=None, additional_kwargs={"a": 2, "b": 1}))


def test_the_fast_path_turns_itself_off_when_the_models_differ(monkeypatch):
    assert _stream._fast_path_agrees()
    with monkeypatch.context() as m:  # a llama-index-core whose ChatResponse sets one more field
        m.setattr(_stream, "validated_text_response",
                  lambda *a: validated_text_response(*a).model_copy(update={"raw": {}}))
        assert not _stream._fast_path_agrees()
    with monkeypatch.context() as m:  # a pydantic whose models keep their state elsewhere
        m.setattr("domestic_llm.unvalidated._set_extra", None)
        assert not _stream._fast_path_agrees()


_texts = st.text(alphabet=st.sampled_from(["长", "江", "a", " ", "\n", "🙂"]), max_size=4)
_chunks = st.lists(st.one_of(
    st.builds(ChatChunk, text=_texts, reasoning=_texts),
    st.builds(ChatChunk, text=_texts, tool_calls=st.just([ToolCallDelta(0, "c1", "f", "{}")])),
    st.builds(ChatChunk, text=_texts, logprobs=st.just(LOGPROBS)),
    st.builds(ChatChunk, reasoning=_texts, usage=st.just(USAGE)),
), max_size=12)


@settings(max_examples=150, deadline=None)
@given(_chunks, st.booleans())
def test_any_stream_gives_the_same_objects_both_ways(chunks, finish):
    if finish:
        chunks = [*chunks, ChatChunk(final=True, finish_reason="stop", usage=USAGE, metadata={"id": "x"})]
    fast, validated = both_ways(chunks)
    assert_same(fast, validated)


def without_ids(responses: list[ChatResponse]) -> list[ChatResponse]:
    """The responses with the ids that differ from one request to the next taken out of the last one."""
    for extra in (responses[-1].raw, responses[-1].additional_kwargs):
        for key in ("id", "request_id", "created"):
            extra.pop(key, None)
    return responses


@pytest.mark.parametrize("model", ["qwen-72b", "deepseek-r1-distill-qwen-32b"])
def test_stream_chat_end_to_end_is_the_same_both_ways(emulator, monkeypatch, model):
    messages = [ChatMessage(role="user", content="介绍一下长江")]

    built = []

    def counted(*args):
        built.append(args)
        return text_response(*args)

    monkeypatch.setattr(_stream, "text_response", counted)

    def stream(fast: bool) -> list[ChatResponse]:
        monkeypatch.setattr(StreamAccumulator.__init__, "__defaults__", (fast,))
        with DomesticLLM(model=model, base_url=emulator.base_url) as llm:
            return list(llm.stream_chat(messages))

    fast = stream(True)
    assert len(built) == len(fast) - 1 > 5  # every response but the last one took the fast path
    validated = stream(False)
    assert len(built) == len(fast) - 1
    assert any(isinstance(b, ThinkingBlock) for b in fast[-1].message.blocks) == ("r1" in model)
    assert_same(without_ids(fast), without_ids(validated))  # type: ignore[arg-type]


def test_tool_call_stream_end_to_end_is_the_same_both_ways(emulator, monkeypatch):
    def stream(fast: bool) -> list[ChatResponse]:
        monkeypatch.setattr(StreamAccumulator.__init__, "__defaults__", (fast,))
        emulator.script([Reply(text="让我查一下", tool_calls=[ScriptedToolCall("get_weather", {"city": "北京"}, "c1")])])
        with DomesticLLM(model="qwen-72b", base_url=emulator.base_url) as llm:
            return list(llm.stream_chat([ChatMessage(role="user", content="北京天气")]))

    fast, validated = stream(True), stream(False)
    assert fast[-1].message.additional_kwargs["tool_calls"][0]["function"]["name"] == "get_weather"
    assert_same(without_ids(fast), without_ids(validated))  # type: ignore[arg-type]
