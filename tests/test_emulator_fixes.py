"""Emulator fidelity: ias streams carry reasoning like its JSON answers; a dropped connection is quiet."""

from __future__ import annotations

import logging

import pytest

from domestic_llm import ChatClient, StreamInterruptedError
from domestic_llm.testing import Fault, Reply


def test_ias_stream_carries_the_reasoning_its_json_answer_has(emulator):
    client = ChatClient(model="Qwen-NLP-72B", endpoint=emulator.endpoint("ias"))
    emulator.script([Reply(text="答案。", reasoning="先想一想。"), Reply(text="答案。", reasoning="先想一想。")])
    invoked = client.invoke("hi")
    chunks = list(client.stream("hi"))
    assert (invoked.reasoning, invoked.text) == ("先想一想。", "答案。")
    assert ("".join(c.reasoning for c in chunks), "".join(c.text for c in chunks)) == ("先想一想。", "答案。")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_dropped_connection_logs_one_line_and_no_traceback(emulator):
    # uvicorn's loggers do not propagate to the root logger (caplog): listen on them directly
    handler = _Records()
    watched = [logging.getLogger(n) for n in ("uvicorn.error", "uvicorn", "domestic_llm.emulator")]
    for logger in watched:
        logger.addHandler(handler)
    old_level = logging.getLogger("domestic_llm.emulator").level
    logging.getLogger("domestic_llm.emulator").setLevel(logging.INFO)
    try:
        emulator.fault(Fault(drop_after_chunks=3))
        with pytest.raises(StreamInterruptedError) as info:
            list(ChatClient(model="qwen-72b", base_url=emulator.base_url, max_retries=0).stream("hi"))
        assert info.value.partial_text  # the client saw a real drop after some of the answer
    finally:
        for logger in watched:
            logger.removeHandler(handler)
        logging.getLogger("domestic_llm.emulator").setLevel(old_level)
    assert not [r for r in handler.records if r.exc_info or r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in handler.records] == ["emulated connection drop on /v1/chat/completions"]
