"""The clients the benchmark compares ("layers"), each behind the same two calls.

`stream(n)` yields the text delta of every chunk the layer hands its user ("" for
chunks without text) for an `n`-chunk answer of `benchmarks/server.py`;
`invoke(n)` returns a whole non-streamed answer's text. Async layers return
async iterators / coroutines. The harness consumes every layer with the same
loop, so the loop's own cost is alike in every row and the differences are the
layers'. Peers (langchain-openai, llama-index-llms-openai-like) are optional:
`available()` lists what can be built here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from benchmarks.server import answer_text, piece

PROMPT = "q"
MESSAGES = [{"role": "user", "content": PROMPT}]


def model_name(n: int) -> str:
    return f"bench-{n}"


class Layer:
    """One client, built lazily per answer length (the model name tells the server the length)."""

    name = ""
    is_async = False
    #: layers measured for the non-streamed overhead (`invoke`)
    invokes = True
    #: talks to the server (the bare models do not: no time to first chunk, no concurrency run)
    io = True

    def __init__(self, base_url: str, max_connections: int = 200) -> None:
        self.base_url = base_url  # http://127.0.0.1:PORT/v1
        self.max_connections = max_connections
        self._clients: dict[int, Any] = {}

    def client(self, n: int) -> Any:
        c = self._clients.get(n)
        if c is None:
            c = self._clients[n] = self.build(n)
        return c

    def build(self, n: int) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, n: int, loop: Any) -> None:
        """Work done before a timed run, outside the timing: build the client for `n`-chunk
        answers and open its connection (with one non-streamed call) the first time."""
        if n in self._clients:
            return
        self.client(n)
        if self.invokes:
            call = self.invoke(n)
            if self.is_async:
                loop.run_until_complete(call)

    def close(self, loop: Any) -> None:
        """Release every client's connections (an async client's on the loop it ran on)."""
        for c in self._clients.values():
            if self.is_async and hasattr(c, "aclose"):
                loop.run_until_complete(c.aclose())
            elif hasattr(c, "close"):
                c.close()
        self._clients.clear()

    def stream(self, n: int) -> Any:  # Iterator[str] or AsyncIterator[str]
        raise NotImplementedError

    def invoke(self, n: int) -> Any:  # str or Awaitable[str]
        raise NotImplementedError


# ---- the floor: what any client must at least do ---------------------------------------


def _split_events(lines_buf: list[bytes], raw: bytes) -> list[bytes]:
    """Complete lines of the stream so far; a partial last line waits in `lines_buf`."""
    lines = (lines_buf.pop() + raw if lines_buf else raw).split(b"\n")
    lines_buf.append(lines.pop())
    return lines


def _deltas(line: bytes) -> list[str]:
    if not line.startswith(b"data: ") or line == b"data: [DONE]":
        return []
    obj = json.loads(line[6:])
    return [c["delta"].get("content") or "" for c in obj["choices"]]


def _deltas_of_read(lines_buf: list[bytes], raw: bytes) -> Iterator[str]:
    """The text deltas one network read completes (the floor's two loops, for the framework floors)."""
    for line in _split_events(lines_buf, raw):
        yield from _deltas(line)


def _request_body(model: str, stream: bool = False) -> dict[str, Any]:
    """The request every layer sends (the model name tells the server the answer's length)."""
    return {"model": model, "messages": MESSAGES, **({"stream": True} if stream else {})}


def _answer(content: bytes) -> str:
    """The text of a non-streamed answer's body."""
    return json.loads(content)["choices"][0]["message"]["content"]


class RawHttpx(Layer):
    """httpx + a line splitter + `json.loads` + reading `delta.content`: the floor."""

    name = "raw httpx (floor)"

    def build(self, n: int) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, limits=httpx.Limits(max_connections=self.max_connections))

    def stream(self, n: int) -> Iterator[str]:
        buf: list[bytes] = []
        with self.client(n).stream("POST", "/chat/completions", json=_request_body(model_name(n), stream=True)) as r:
            for raw in r.iter_bytes():
                for line in _split_events(buf, raw):
                    yield from _deltas(line)

    def invoke(self, n: int) -> str:
        return _answer(self.client(n).post("/chat/completions", json=_request_body(model_name(n))).content)


class RawHttpxAsync(RawHttpx):
    name = "raw httpx async (floor)"
    is_async = True

    def build(self, n: int) -> Any:  # an httpx.AsyncClient
        return httpx.AsyncClient(base_url=self.base_url, limits=httpx.Limits(max_connections=self.max_connections))

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        buf: list[bytes] = []
        async with self.client(n).stream("POST", "/chat/completions", json=_request_body(model_name(n), stream=True)) as r:
            async for raw in r.aiter_bytes():
                for line in _split_events(buf, raw):
                    for d in _deltas(line):
                        yield d

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return _answer((await self.client(n).post("/chat/completions", json=_request_body(model_name(n)))).content)


# ---- domestic-llm ---------------------------------------------------------------------------


class Core(Layer):
    name = "core ChatClient.stream"

    def build(self, n: int) -> Any:
        from domestic_llm import ChatClient

        return ChatClient(model=model_name(n), base_url=self.base_url, max_connections=self.max_connections,
                          max_retries=0)

    def stream(self, n: int) -> Iterator[str]:
        for chunk in self.client(n).stream(PROMPT):
            yield chunk.text

    def invoke(self, n: int) -> str:
        return self.client(n).invoke(PROMPT).text


class CoreAsync(Core):
    name = "core ChatClient.astream"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for chunk in self.client(n).astream(PROMPT):
            yield chunk.text

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).ainvoke(PROMPT)).text


class ChatDomesticSync(Layer):
    name = "ChatDomestic.stream"

    def build(self, n: int) -> Any:
        from langchain_domestic_llm import ChatDomestic

        return ChatDomestic(model=model_name(n), base_url=self.base_url,
                            max_connections=self.max_connections, max_retries=0)

    def stream(self, n: int) -> Iterator[str]:
        for chunk in self.client(n).stream(PROMPT):
            yield chunk.content

    def invoke(self, n: int) -> str:
        return self.client(n).invoke(PROMPT).content


class ChatDomesticAsync(ChatDomesticSync):
    name = "ChatDomestic.astream"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for chunk in self.client(n).astream(PROMPT):
            yield chunk.content

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).ainvoke(PROMPT)).content


class DomesticLLMSync(Layer):
    name = "DomesticLLM.stream_chat"

    def build(self, n: int) -> Any:
        from llamaindex_domestic_llm import DomesticLLM

        return DomesticLLM(model=model_name(n), base_url=self.base_url, max_connections=self.max_connections,
                           max_retries=0)

    @staticmethod
    def messages() -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role="user", content=PROMPT)]

    def stream(self, n: int) -> Iterator[str]:
        for r in self.client(n).stream_chat(self.messages()):
            yield r.delta or ""

    def invoke(self, n: int) -> str:
        return self.client(n).chat(self.messages()).message.content


class DomesticLLMAsync(DomesticLLMSync):
    name = "DomesticLLM.astream_chat"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for r in await self.client(n).astream_chat(self.messages()):
            yield r.delta or ""

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).achat(self.messages())).message.content


# ---- peers ---------------------------------------------------------------------------------


class ChatOpenAISync(ChatDomesticSync):
    name = "ChatOpenAI.stream"

    def build(self, n: int) -> Any:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=model_name(n), base_url=self.base_url, api_key="bench",  # type: ignore[arg-type]
                          stream_usage=True, max_retries=0)


class ChatOpenAIAsync(ChatDomesticAsync):
    name = "ChatOpenAI.astream"

    def build(self, n: int) -> Any:
        return ChatOpenAISync.build(self, n)  # type: ignore[arg-type]


class OpenAILikeSync(DomesticLLMSync):
    name = "OpenAILike.stream_chat"

    def build(self, n: int) -> Any:
        from llama_index.llms.openai_like import OpenAILike

        return OpenAILike(model=model_name(n), api_base=self.base_url, api_key="bench", is_chat_model=True,
                          max_retries=0)


class OpenAILikeAsync(DomesticLLMAsync):
    name = "OpenAILike.astream_chat"

    def build(self, n: int) -> Any:
        return OpenAILikeSync.build(self, n)  # type: ignore[arg-type]


# ---- langchain-core's own floor: a chat model that does no I/O at all ----------------------


class BareChatModelSync(Layer):
    """A `BaseChatModel` whose `_stream` yields pre-built chunks: what langchain-core itself costs.

    Its `invoke` returns a message built per call, from text held in memory.
    """

    name = "bare BaseChatModel.stream (no I/O)"
    io = False
    #: build each AIMessageChunk while streaming (as any real integration must) instead of beforehand
    build_chunks = False

    def build(self, n: int) -> Any:
        return _bare_model_class()(answer=answer_text(n))

    def prepare(self, n: int, loop: Any) -> None:
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        model = self.client(n)
        model._texts = [piece(i) for i in range(n)] if self.build_chunks else []
        chunks = [] if self.build_chunks else [ChatGenerationChunk(message=AIMessageChunk(content=piece(i)))
                                               for i in range(n)]
        chunks.append(ChatGenerationChunk(message=AIMessageChunk(
            content="", chunk_position="last", response_metadata={"finish_reason": "stop"},
            usage_metadata={"input_tokens": 10, "output_tokens": n, "total_tokens": 10 + n})))
        model._chunks = chunks

    def stream(self, n: int) -> Iterator[str]:
        for chunk in self.client(n).stream(PROMPT):
            yield chunk.content

    def invoke(self, n: int) -> str:
        return self.client(n).invoke(PROMPT).content


class BareChatModelAsync(BareChatModelSync):
    name = "bare BaseChatModel.astream (no I/O)"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for chunk in self.client(n).astream(PROMPT):
            yield chunk.content

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).ainvoke(PROMPT)).content


class BareBuildingChunks(BareChatModelSync):
    """The bare model building an `AIMessageChunk` per chunk: the floor of any LangChain integration."""

    name = "bare BaseChatModel.stream, building chunks (no I/O)"
    build_chunks = True
    invokes = False  # same as the bare model's


class LangChainOverHttpx(Layer):
    """The floor of any LangChain integration: a `BaseChatModel` whose `_stream` is the raw httpx floor
    building one validated `AIMessageChunk` per delta, and whose `_generate` is the raw `post`.

    What a LangChain chat model cannot avoid (I/O + langchain-core + one message per chunk); the
    distance from it to `ChatDomestic` is everything our adapter and core add.
    """

    name = "LangChain floor: BaseChatModel over raw httpx"

    def build(self, n: int) -> Any:
        http = (httpx.AsyncClient if self.is_async else httpx.Client)(
            base_url=self.base_url, limits=httpx.Limits(max_connections=self.max_connections))
        return _httpx_model_class()(http=http, bench_model=model_name(n))

    def close(self, loop: Any) -> None:
        for c in self._clients.values():
            if self.is_async:
                loop.run_until_complete(c.http.aclose())
            else:
                c.http.close()
        self._clients.clear()

    def stream(self, n: int) -> Iterator[str]:
        for chunk in self.client(n).stream(PROMPT):
            yield chunk.content

    def invoke(self, n: int) -> str:
        return self.client(n).invoke(PROMPT).content


class LangChainOverHttpxAsync(LangChainOverHttpx):
    name = "LangChain floor: BaseChatModel over raw httpx, async"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for chunk in self.client(n).astream(PROMPT):
            yield chunk.content

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).ainvoke(PROMPT)).content


_HTTPX_MODEL: Any = None


def _httpx_model_class() -> Any:
    global _HTTPX_MODEL
    if _HTTPX_MODEL is None:
        from langchain_core.language_models import BaseChatModel
        from langchain_core.messages import AIMessage, AIMessageChunk
        from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

        class HttpxChatModel(BaseChatModel):
            http: Any
            bench_model: str

            @property
            def _llm_type(self) -> str:
                return "bench-httpx"

            def _body(self, stream: bool) -> dict[str, Any]:
                return _request_body(self.bench_model, stream)

            def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                r = self.http.post("/chat/completions", json=self._body(False))
                text = _answer(r.content)
                return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

            async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                r = await self.http.post("/chat/completions", json=self._body(False))
                text = _answer(r.content)
                return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

            def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                buf: list[bytes] = []
                with self.http.stream("POST", "/chat/completions", json=self._body(True)) as r:
                    for raw in r.iter_bytes():
                        for d in _deltas_of_read(buf, raw):
                            gen = ChatGenerationChunk(message=AIMessageChunk(content=d))
                            if run_manager:
                                run_manager.on_llm_new_token(gen.text, chunk=gen)
                            yield gen

            async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                buf: list[bytes] = []
                async with self.http.stream("POST", "/chat/completions", json=self._body(True)) as r:
                    async for raw in r.aiter_bytes():
                        for d in _deltas_of_read(buf, raw):
                            gen = ChatGenerationChunk(message=AIMessageChunk(content=d))
                            if run_manager:
                                await run_manager.on_llm_new_token(gen.text, chunk=gen)
                            yield gen

        _HTTPX_MODEL = HttpxChatModel
    return _HTTPX_MODEL


_BARE: Any = None


def _bare_model_class() -> Any:
    global _BARE
    if _BARE is None:
        from langchain_core.language_models import BaseChatModel
        from langchain_core.messages import AIMessage, AIMessageChunk
        from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
        from pydantic import PrivateAttr

        class BareChatModel(BaseChatModel):
            answer: str = ""
            # private: langchain-core puts repr(model) of a non-serialisable model in each run's trace
            _chunks: list[Any] = PrivateAttr(default_factory=list)
            _texts: list[str] = PrivateAttr(default_factory=list)

            @property
            def _llm_type(self) -> str:
                return "bare"

            def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.answer))])

            def _gens(self) -> Any:
                for text in self._texts:  # built while streaming, as a real integration does
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))
                yield from self._chunks

            def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                for gen in self._gens():  # what every chat model does per chunk
                    if run_manager:
                        run_manager.on_llm_new_token(gen.text, chunk=gen)
                    yield gen

            async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
                for gen in self._gens():
                    if run_manager:
                        await run_manager.on_llm_new_token(gen.text, chunk=gen)
                    yield gen

        _BARE = BareChatModel
    return _BARE



# ---- llama-index-core's own floor: an LLM that does no I/O at all ----------------------------


class BareLLMSync(Layer):
    """A LlamaIndex `CustomLLM` whose instrumented `stream_chat` yields pre-built responses.

    What llama-index-core itself costs per chunk (its `llm_chat_callback` dispatches an
    `LLMChatInProgressEvent` for every response) and per call (span, start/end events,
    `to_payload`); its `chat` builds one response per call from text held in memory.
    The responses share one message (their content does not change what the framework does).
    """

    name = "bare LlamaIndex LLM.stream_chat (no I/O)"
    io = False
    #: build each ChatResponse while streaming, as an integration does (validated, accumulating content)
    build_responses = False

    def build(self, n: int) -> Any:
        return _bare_llm_class()(answer=answer_text(n))

    def prepare(self, n: int, loop: Any) -> None:
        from llama_index.core.base.llms.types import ChatMessage, ChatResponse

        llm = self.client(n)
        llm._texts = [piece(i) for i in range(n)] if self.build_responses else []
        message = ChatMessage(role="assistant", content=answer_text(n))
        responses = [] if self.build_responses else [ChatResponse(message=message, delta=piece(i)) for i in range(n)]
        responses.append(ChatResponse(message=message, delta="", additional_kwargs={"finish_reason": "stop"}))
        llm._responses = responses

    def stream(self, n: int) -> Iterator[str]:
        for r in self.client(n).stream_chat(DomesticLLMSync.messages()):
            yield r.delta or ""

    def invoke(self, n: int) -> str:
        return self.client(n).chat(DomesticLLMSync.messages()).message.content


class BareLLMAsync(BareLLMSync):
    name = "bare LlamaIndex LLM.astream_chat (no I/O)"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for r in await self.client(n).astream_chat(DomesticLLMSync.messages()):
            yield r.delta or ""

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).achat(DomesticLLMSync.messages())).message.content


class BareLLMBuilding(BareLLMSync):
    """The bare LLM building a validated `ChatResponse` (accumulated message + delta) per chunk,
    as LlamaIndex integrations do: the floor of a straightforward LlamaIndex integration."""

    name = "bare LlamaIndex LLM.stream_chat, building responses (no I/O)"
    build_responses = True
    invokes = False  # same as the bare LLM's



class LlamaIndexOverHttpx(Layer):
    """The floor of any LlamaIndex integration: an `LLM` whose instrumented `stream_chat` is the raw
    httpx floor building one validated `ChatResponse` (accumulated message + delta) per delta, and
    whose `chat` is the raw `post`.

    What a LlamaIndex LLM cannot avoid (I/O + llama-index-core + one response per chunk); the
    distance from it to `DomesticLLM` is everything our adapter and core add.
    """

    name = "LlamaIndex floor: LLM over raw httpx"

    def build(self, n: int) -> Any:
        http = (httpx.AsyncClient if self.is_async else httpx.Client)(
            base_url=self.base_url, limits=httpx.Limits(max_connections=self.max_connections))
        return _httpx_llm_class()(http=http, bench_model=model_name(n))

    def close(self, loop: Any) -> None:
        LangChainOverHttpx.close(self, loop)  # type: ignore[arg-type]

    def stream(self, n: int) -> Iterator[str]:
        for r in self.client(n).stream_chat(DomesticLLMSync.messages()):
            yield r.delta or ""

    def invoke(self, n: int) -> str:
        return self.client(n).chat(DomesticLLMSync.messages()).message.content


class LlamaIndexOverHttpxAsync(LlamaIndexOverHttpx):
    name = "LlamaIndex floor: LLM over raw httpx, async"
    is_async = True

    async def stream(self, n: int) -> AsyncIterator[str]:  # type: ignore[override]
        async for r in await self.client(n).astream_chat(DomesticLLMSync.messages()):
            yield r.delta or ""

    async def invoke(self, n: int) -> str:  # type: ignore[override]
        return (await self.client(n).achat(DomesticLLMSync.messages())).message.content


_HTTPX_LLM: Any = None


def _httpx_llm_class() -> Any:
    global _HTTPX_LLM
    if _HTTPX_LLM is None:
        from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
        from llama_index.core.llms.callbacks import llm_chat_callback

        BareLLM = _bare_llm_class()

        def response(text: str, delta: str | None) -> Any:
            return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)

        class HttpxLLM(BareLLM):  # type: ignore[misc, valid-type]
            http: Any
            bench_model: str

            def _body(self, stream: bool) -> dict[str, Any]:
                return _request_body(self.bench_model, stream)

            @llm_chat_callback()
            def chat(self, messages: Any, **kw: Any) -> Any:
                r = self.http.post("/chat/completions", json=self._body(False))
                return response(_answer(r.content), None)

            @llm_chat_callback()
            async def achat(self, messages: Any, **kw: Any) -> Any:
                r = await self.http.post("/chat/completions", json=self._body(False))
                return response(_answer(r.content), None)

            @llm_chat_callback()
            def stream_chat(self, messages: Any, **kw: Any) -> Any:
                def gen() -> Any:
                    buf: list[bytes] = []
                    text = ""
                    with self.http.stream("POST", "/chat/completions", json=self._body(True)) as r:
                        for raw in r.iter_bytes():
                            for d in _deltas_of_read(buf, raw):
                                text += d
                                yield response(text, d)

                return gen()

            @llm_chat_callback()
            async def astream_chat(self, messages: Any, **kw: Any) -> Any:
                async def gen() -> Any:
                    buf: list[bytes] = []
                    text = ""
                    async with self.http.stream("POST", "/chat/completions", json=self._body(True)) as r:
                        async for raw in r.aiter_bytes():
                            for d in _deltas_of_read(buf, raw):
                                text += d
                                yield response(text, d)

                return gen()

        _HTTPX_LLM = HttpxLLM
    return _HTTPX_LLM


_BARE_LLM: Any = None


def _bare_llm_class() -> Any:
    global _BARE_LLM
    if _BARE_LLM is None:
        from llama_index.core.base.llms.types import (
            ChatMessage,
            ChatResponse,
            CompletionResponse,
            LLMMetadata,
            MessageRole,
        )
        from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
        from llama_index.core.llms.custom import CustomLLM
        from pydantic import PrivateAttr

        class BareLLM(CustomLLM):
            answer: str = ""
            _responses: list[Any] = PrivateAttr(default_factory=list)
            _texts: list[str] = PrivateAttr(default_factory=list)

            @property
            def metadata(self) -> LLMMetadata:
                return LLMMetadata(is_chat_model=True, model_name="bare")

            @llm_completion_callback()
            def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
                return CompletionResponse(text=self.answer)

            @llm_completion_callback()
            def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
                raise NotImplementedError

            @llm_chat_callback()
            def chat(self, messages: Any, **kw: Any) -> Any:
                return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self.answer))

            @llm_chat_callback()
            async def achat(self, messages: Any, **kw: Any) -> Any:
                return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self.answer))

            def _gen(self) -> Any:
                text = ""
                for delta in self._texts:  # built while streaming, as a real integration does
                    text += delta
                    yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)
                yield from self._responses

            @llm_chat_callback()
            def stream_chat(self, messages: Any, **kw: Any) -> Any:
                return self._gen()

            @llm_chat_callback()
            async def astream_chat(self, messages: Any, **kw: Any) -> Any:
                async def gen() -> Any:
                    for response in self._gen():
                        yield response

                return gen()

        _BARE_LLM = BareLLM
    return _BARE_LLM

#: every layer, in table order: sync twins first, then async
ALL: list[type[Layer]] = [
    RawHttpx, RawHttpxAsync,
    Core, CoreAsync,
    BareChatModelSync, BareChatModelAsync, BareBuildingChunks,
    LangChainOverHttpx, LangChainOverHttpxAsync,
    ChatDomesticSync, ChatDomesticAsync,
    ChatOpenAISync, ChatOpenAIAsync,
    BareLLMSync, BareLLMAsync, BareLLMBuilding,
    LlamaIndexOverHttpx, LlamaIndexOverHttpxAsync,
    DomesticLLMSync, DomesticLLMAsync,
    OpenAILikeSync, OpenAILikeAsync,
]

#: the module a layer needs; a layer whose module is missing is left out (and said so)
NEEDS: dict[type[Layer], str] = {
    BareChatModelSync: "langchain_core", BareChatModelAsync: "langchain_core", BareBuildingChunks: "langchain_core",
    LangChainOverHttpx: "langchain_core", LangChainOverHttpxAsync: "langchain_core",
    ChatDomesticSync: "langchain_core", ChatDomesticAsync: "langchain_core",
    DomesticLLMSync: "llama_index.core", DomesticLLMAsync: "llama_index.core",
    BareLLMSync: "llama_index.core", BareLLMAsync: "llama_index.core", BareLLMBuilding: "llama_index.core",
    LlamaIndexOverHttpx: "llama_index.core", LlamaIndexOverHttpxAsync: "llama_index.core",
    ChatOpenAISync: "langchain_openai", ChatOpenAIAsync: "langchain_openai",
    OpenAILikeSync: "llama_index.llms.openai_like", OpenAILikeAsync: "llama_index.llms.openai_like",
}


def available() -> tuple[list[type[Layer]], list[str]]:
    """Layers whose packages are installed, and the names of those left out."""
    import importlib.util

    have: list[type[Layer]] = []
    missing: list[str] = []
    for layer in ALL:
        module = NEEDS.get(layer)
        try:
            ok = module is None or importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            ok = False
        if ok:
            have.append(layer)
        else:
            missing.append(layer.name)
    return have, missing


def by_name(name: str) -> type[Layer]:
    for layer in ALL:
        if layer.name == name:
            return layer
    raise KeyError(name)
