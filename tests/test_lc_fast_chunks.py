"""The LangChain adapter builds plain delta chunks without validation (`domestic_llm.unvalidated`).

These tests hold the fast objects against what validation builds from the same input, so
that a langchain-core or pydantic release that changes either side fails here, and show
that the import-time check turns the fast path off when the two differ.
"""

from __future__ import annotations

import copy
import pickle

import pytest
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from domestic_llm.types import ChatChunk, ToolCallDelta
from domestic_llm.unvalidated import same_objects
from langchain_domestic_llm import _convert
from langchain_domestic_llm._convert import to_generation_chunk, validated_delta

CASES = [("你好", "", "chatcmpl-1"), ("", "先想一想", None), ("答", "理由", "id-2"), ("", "", None)]


def validated(text: str, reasoning: str, message_id: str | None) -> ChatGenerationChunk:
    additional = {"reasoning_content": reasoning} if reasoning else {}
    return ChatGenerationChunk(
        message=AIMessageChunk(content=text, additional_kwargs=additional, tool_call_chunks=[], id=message_id),
        generation_info=None,
    )


def test_the_fast_path_is_on_here():
    # with this repository's pinned langchain-core and pydantic the two ways agree
    assert _convert.FAST_PATH_AGREES and _convert._delta_generation is _convert._fast_delta


@pytest.mark.parametrize(("text", "reasoning", "message_id"), CASES)
def test_fast_delta_equals_validated(text: str, reasoning: str, message_id: str | None) -> None:
    fast = to_generation_chunk(ChatChunk(text=text, reasoning=reasoning), "m", "openai", message_id)
    slow = validated(text, reasoning, message_id)
    assert type(fast) is type(slow) and type(fast.message) is type(slow.message)
    assert fast == slow and fast.message == slow.message
    assert list(fast.__dict__) == list(slow.__dict__)
    assert list(fast.message.__dict__) == list(slow.message.__dict__)
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.message.model_fields_set == slow.message.model_fields_set
    assert fast.message.__pydantic_extra__ == slow.message.__pydantic_extra__
    assert repr(fast) == repr(slow)
    assert fast.model_dump() == slow.model_dump()
    assert fast.message.model_dump_json() == slow.message.model_dump_json()
    assert type(fast.text) is type(slow.text) and fast.text == text
    assert dumpd(fast.message) == dumpd(slow.message)
    assert load(dumpd(fast.message), allowed_objects="messages") == slow.message
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert copy.deepcopy(fast) == slow and fast.model_copy() == slow
    assert fast.message.content_blocks == slow.message.content_blocks
    assert same_objects(fast, slow) and same_objects(fast, validated_delta(text, reasoning, message_id))


def test_fast_deltas_merge_like_validated_ones() -> None:
    parts = [("<", "想", "x"), ("你", "", "x"), ("好", "", "x")]
    fast = [to_generation_chunk(ChatChunk(text=t, reasoning=r), "m", "openai", i) for t, r, i in parts]
    slow = [validated(t, r, i) for t, r, i in parts]
    assert fast[0] + fast[1] + fast[2] == slow[0] + slow[1] + slow[2]
    assert (fast[0].message + fast[1].message).content == "<你"


def test_fast_deltas_share_no_mutable_state() -> None:
    a = to_generation_chunk(ChatChunk(text="a"), "m", "openai", None)
    b = to_generation_chunk(ChatChunk(text="b"), "m", "openai", None)
    a.message.additional_kwargs["x"] = 1
    a.message.response_metadata["y"] = 2
    a.message.tool_call_chunks.append({"name": None, "args": "", "id": None, "index": 0, "type": "tool_call_chunk"})
    a.message.id = "set-later"  # what langchain-core does to every chunk without an id
    a.message.model_fields_set.add("name")
    assert b.message.additional_kwargs == {} and b.message.response_metadata == {}
    assert b.message.tool_call_chunks == [] and b.message.id is None
    assert b.message.model_fields_set == {"content", "additional_kwargs", "tool_call_chunks", "id"}


def test_langchain_core_fields_are_the_ones_the_fast_path_knows() -> None:
    # A new field could hold a mutable default that the fast path would share between chunks:
    # review `_convert._delta_generation` when this changes.
    assert set(AIMessageChunk.model_fields) == {
        "content", "additional_kwargs", "response_metadata", "type", "name", "id", "tool_calls",
        "invalid_tool_calls", "usage_metadata", "tool_call_chunks", "chunk_position"}
    assert set(ChatGenerationChunk.model_fields) == {"text", "generation_info", "type", "message"}


def test_chunks_with_tool_calls_logprobs_or_final_are_validated() -> None:
    call = to_generation_chunk(ChatChunk(tool_calls=[ToolCallDelta(0, "c1", "f", '{"a":')]), "m", "openai", None)
    assert call.message.tool_call_chunks[0]["name"] == "f"
    assert call.message.tool_calls[0]["name"] == "f"  # filled in by AIMessageChunk's validator
    logp = to_generation_chunk(ChatChunk(text="a", logprobs={"content": []}), "m", "openai", None)
    assert logp.generation_info == {"logprobs": {"content": []}}
    final = to_generation_chunk(ChatChunk(final=True, finish_reason="stop"), "m", "openai", None)
    assert final.message.chunk_position == "last" and final.message.response_metadata["finish_reason"] == "stop"


def test_the_fast_path_turns_itself_off_when_the_models_differ(monkeypatch):
    assert _convert._fast_path_agrees()
    with monkeypatch.context() as m:  # a langchain-core whose validation sets one more field
        m.setattr(_convert, "validated_delta",
                  lambda *a: validated_delta(*a).model_copy(update={"generation_info": {}}))
        assert not _convert._fast_path_agrees()
    with monkeypatch.context() as m:  # a pydantic whose models keep their state elsewhere
        m.setattr("domestic_llm.unvalidated._set_extra", None)
        assert not _convert._fast_path_agrees()


def test_same_objects_tells_objects_apart():
    a = validated("x", "", None)
    assert same_objects(a, validated("x", "", None))
    assert not same_objects(a, validated("y", "", None))
    assert not same_objects(a, validated("x", "r", None))
    b = validated("x", "", None)
    b.message.model_fields_set.add("name")
    assert a == b and not same_objects(a, b)  # == alone misses what the fields set says
