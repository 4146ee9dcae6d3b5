"""LlamaIndex conventions over real sockets: tool calls where llama-index-core reads them, one
instrumentation per completion, logprobs, and the context window the server reports."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.rate_limiter import BaseRateLimiter
from pydantic import BaseModel

from domestic_llm.models import fetch_served_models, models_url, parse_models
from domestic_llm.testing import Reply, ScriptedToolCall
from domestic_llm.testing.replies import pieces, usage_of
from llamaindex_domestic_llm import DomesticLLM, MalformedResponseError

ANSWER = "你好！关于“hi”：这是 domestic-llm 模拟器的回答。"


def llm(emulator, **kw) -> DomesticLLM:
    return DomesticLLM(model=kw.pop("model", "qwen-72b"), base_url=emulator.base_url, **kw)


class City(BaseModel):
    name: str
    population_millions: float


CITY = ScriptedToolCall("City", {"name": "北京", "population_millions": 21.9}, "c1")


def test_tool_calls_are_also_in_additional_kwargs(emulator):
    emulator.script([Reply(tool_calls=[CITY])])
    response = llm(emulator).chat([ChatMessage(role="user", content="北京")])
    assert response.message.additional_kwargs["tool_calls"] == [
        {"id": "c1", "type": "function",
         "function": {"name": "City", "arguments": '{"name": "北京", "population_millions": 21.9}'}}]


def test_stream_structured_predict_fills_the_object(emulator):
    from llama_index.core.prompts import PromptTemplate

    emulator.script([Reply(tool_calls=[CITY]), Reply(tool_calls=[CITY])])
    model = llm(emulator)
    partials = list(model.stream_structured_predict(City, PromptTemplate("关于{topic}的数据"), topic="北京"))
    assert len(partials) > 1
    last = partials[-1]
    assert (last.name, last.population_millions) == ("北京", 21.9)
    streamed = list(model.as_structured_llm(City).stream_chat([ChatMessage(role="user", content="北京")]))
    assert streamed[-1].raw.name == "北京" and streamed[-1].raw.population_millions == 21.9


class _CountingLimiter(BaseRateLimiter):
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self, num_tokens: int = 0) -> None:
        self.acquired += 1

    async def async_acquire(self, num_tokens: int = 0) -> None:
        self.acquired += 1


@pytest.mark.parametrize("method", ["complete", "stream_complete", "chat", "acomplete", "astream_complete"])
async def test_each_call_is_counted_and_rate_limited_once(emulator, method):
    from llama_index.core.callbacks import CallbackManager, TokenCountingHandler

    counter = TokenCountingHandler()
    limiter = _CountingLimiter()
    model = llm(emulator, callback_manager=CallbackManager([counter]), rate_limiter=limiter)
    if method == "complete":
        model.complete("hi")
    elif method == "stream_complete":
        assert "".join(r.delta for r in model.stream_complete("hi")) == ANSWER
    elif method == "chat":
        model.chat([ChatMessage(role="user", content="hi")])
    elif method == "acomplete":
        await model.acomplete("hi")
    else:
        assert "".join([r.delta async for r in await model.astream_complete("hi")]) == ANSWER
    served = usage_of(Reply(text=ANSWER), [{"content": "hi"}])
    assert len(counter.llm_token_counts) == 1
    event = counter.llm_token_counts[0]
    assert (event.prompt_token_count, event.completion_token_count) == (served["prompt_tokens"],
                                                                        served["completion_tokens"])
    assert counter.total_llm_token_count == served["total_tokens"]
    assert limiter.acquired == 1


def test_logprobs_fill_chat_response(emulator):
    model = llm(emulator, logprobs=True, top_logprobs=2)
    response = model.chat([ChatMessage(role="user", content="hi")])
    assert response.logprobs is not None and len(response.logprobs) == len(pieces(ANSWER))
    assert "".join(alternatives[0].token for alternatives in response.logprobs) == ANSWER
    assert all(len(alternatives) == 2 for alternatives in response.logprobs)
    streamed = list(model.stream_chat([ChatMessage(role="user", content="hi")]))
    assert [[a.token for a in alts] for alts in streamed[-1].logprobs] == [[a.token for a in alts]
                                                                           for alts in response.logprobs]
    assert llm(emulator).chat([ChatMessage(role="user", content="hi")]).logprobs is None


def _model_requests(emulator):
    return [r for r in emulator.requests if r.path == "/v1/models"]


def test_context_window_comes_from_the_server_once(emulator):
    emulator.state.max_model_len = 40960
    model = llm(emulator)
    assert not _model_requests(emulator)  # lazily: nothing asked at construction
    assert model.metadata.context_window == 40960
    assert model.metadata.context_window == 40960
    assert len(_model_requests(emulator)) == 1


def test_configured_context_window_wins_and_asks_nothing(emulator):
    assert llm(emulator, context_window=4096).metadata.context_window == 4096
    assert not _model_requests(emulator)


def test_context_window_falls_back_to_the_default(emulator):
    emulator.state.max_model_len = None  # a server that does not report it
    assert llm(emulator).metadata.context_window == 8192
    gateway = DomesticLLM(model="m", endpoint=emulator.endpoint("lm_v2"))  # no /v1/models route: not asked
    assert gateway.metadata.context_window == 8192
    unreachable = DomesticLLM(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0)
    assert unreachable.metadata.context_window == 8192
    assert len(_model_requests(emulator)) == 1


def test_served_models_core_function(emulator):
    emulator.state.api_key = "sk-m"
    model = llm(emulator, api_key="sk-m")
    served = fetch_served_models(model.client)
    assert [(m.id, m.max_model_len) for m in served] == [("emulated", 32768)]
    assert _model_requests(emulator)[-1].headers["authorization"] == "Bearer sk-m"
    assert models_url("http://h/v1/chat/completions?api-version=1") == "http://h/v1/models?api-version=1"
    assert models_url("http://h/lm/v2/chat") is None
    assert parse_models({"data": [{"id": "a", "max_model_len": "x"}, {"oops": 1}]})[0].max_model_len is None
    with pytest.raises(MalformedResponseError):
        parse_models({"object": "list"})
