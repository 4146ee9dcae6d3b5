"""The secret-grep test: for every way a key can be configured, no output channel ever shows it.

Each configuration style talks to the emulator over a real socket (the emulator
checks that the key arrives where the style puts it), then every channel a user,
a log collector or a tracer can see is searched for the key: repr/str,
LangChain dumpd/dumps, LlamaIndex to_dict/to_json, tracing callbacks and
LlamaIndex instrumentation events, errors (str, repr, vars, pickle) including a
server that echoes the key back, warnings, and log records of every logger at
every level — among them httpx's `HTTP Request:` INFO line.
"""

from __future__ import annotations

import json
import logging
import pickle
import warnings
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, load
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

from domestic_llm import ChatClient, DomesticLLMError
from domestic_llm.testing import Fault
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

SECRET = "sk-GREP-ME-7f3a9c2e51"


@dataclass
class Style:
    name: str
    where: str | None  # the emulator's auth_location (None: the dialect's own Bearer)
    server_key: str  # what the emulator expects there

    def kwargs(self, emu: Any) -> dict[str, Any]:
        url = emu.base_url + "/chat/completions"
        curl = f"curl -X POST {url} -H 'Content-Type: application/json' -d '{{\"model\": \"qwen-72b\"}}'"
        return {
            "api_key": {"endpoint": url, "api_key": SECRET},
            "apikey_header": {"endpoint": url, "default_headers": {"apikey": SECRET, "X-Tenant": "t1"}},
            "x_api_key_header": {"endpoint": url, "default_headers": {"X-Api-Key": SECRET}},
            "access_token_query": {"endpoint": f"{url}?access_token={SECRET}&api-version=2024"},
            "token_provider": {"endpoint": url, "token_provider": lambda: SECRET},
            "curl_bearer": {"curl": curl + f" -H 'Authorization: Bearer {SECRET}'"},
            "curl_apikey": {"curl": curl + f" -H 'apikey: {SECRET}'"},
            "curl_x_api_key": {"curl": curl + f" -H 'X-Api-Key: {SECRET}'"},
            "curl_access_token": {"curl": curl.replace(url, f"'{url}?access_token={SECRET}'")},
            "curl_user": {"curl": curl + f" -u admin:{SECRET}"},
        }[self.name]

    def build(self, cls: Any, emu: Any) -> Any:
        kw = self.kwargs(emu)
        if "curl" in kw:
            return cls.from_curl(kw["curl"], max_retries=0)
        return cls(model="qwen-72b", max_retries=0, **kw)


STYLES = [
    Style("api_key", None, SECRET),
    Style("apikey_header", "header:apikey", SECRET),
    Style("x_api_key_header", "header:x-api-key", SECRET),
    Style("access_token_query", "query:access_token", SECRET),
    Style("token_provider", None, SECRET),
    Style("curl_bearer", None, SECRET),
    Style("curl_apikey", "header:apikey", SECRET),
    Style("curl_x_api_key", "header:x-api-key", SECRET),
    Style("curl_access_token", "query:access_token", SECRET),
    Style("curl_user", "basic", f"admin:{SECRET}"),
]


class _Spy(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.seen.append(json.dumps({"serialized": serialized, **kwargs}, default=str))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.seen.append(json.dumps({"response": response.model_dump(), **kwargs}, default=str))

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.seen.append(f"{error!s} {error!r} {vars(error)}")


def _llamaindex_events() -> tuple[list[str], Any]:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    seen: list[str] = []

    class Collect(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            seen.append(event.model_dump_json() if hasattr(event, "model_dump_json") else str(event))

    handler = Collect()
    get_dispatcher().add_event_handler(handler)
    return seen, handler


def _error_surfaces(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), str(exc.args), str(vars(exc)), pickle.dumps(exc).decode("latin-1"),
            str(pickle.loads(pickle.dumps(exc)))]


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_no_channel_shows_the_secret(style, emulator, caplog):
    emulator.state.api_key = style.server_key
    emulator.state.auth_location = style.where
    surfaces: list[str] = []
    li_events, li_handler = _llamaindex_events()
    caplog.set_level(logging.DEBUG)  # every logger, every level
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat = style.build(ChatDomestic, emulator)
        llm = style.build(DomesticLLM, emulator)
        client = style.build(ChatClient, emulator)

        # the key really travels, where the style says (the emulator refuses it elsewhere)
        spy, collector = _Spy(), RunCollectorCallbackHandler()
        config = {"callbacks": [spy, collector]}
        assert chat.invoke("hi", config=config).content
        assert "".join(c.content for c in chat.stream("hi", config=config))
        assert llm.complete("hi").text
        assert "".join(r.delta or "" for r in llm.stream_chat([_li_user("hi")]))
        assert client.invoke("hi").text

        # a server that echoes the key in its error message, through each surface
        for call in (lambda: chat.invoke("hi", config=config), lambda: llm.complete("hi"), lambda: client.invoke("hi")):
            emulator.fault(Fault(status=401, body={"error": {"message": f"key {SECRET} (admin:{SECRET}) rejected"}},
                                 times=2 if style.name == "token_provider" else 1))  # a provider is asked again
            with pytest.raises(DomesticLLMError) as info:
                call()
            surfaces += _error_surfaces(info.value)
            assert "rejected" in str(info.value)

        surfaces += [repr(chat), str(chat), repr(llm), str(llm), repr(client), str(client)]
        surfaces += [json.dumps(dumpd(chat)), dumps(chat), json.dumps(chat._identifying_params, default=str),
                     str(chat._get_ls_params()), str(chat.model_dump())]
        surfaces += [llm.to_json(), str(llm.to_dict()), str(llm.metadata)]
        surfaces += spy.seen + [json.dumps(r.dict(), default=str) for r in collector.traced_runs]
        surfaces += li_events
    _remove_handler(li_handler)
    surfaces += [f"{w.category.__name__} {w.message}" for w in caught]
    surfaces += [f"{r.name} {r.levelname} {r.getMessage()} {r.args} {r.exc_text}" for r in caplog.records]

    assert collector.traced_runs and spy.seen and li_events
    http_lines = [r.getMessage() for r in caplog.records if r.name == "httpx" and "HTTP Request" in r.getMessage()]
    assert http_lines, "httpx's request log line was not captured: the log channel would not be tested"
    if style.where and style.where.startswith("query:"):
        assert any("access_token=***" in line for line in http_lines)
        assert chat.auth_scheme == "query:access_token" and "access_token" not in (chat.endpoint or "")
    leaks = [s for s in surfaces if SECRET in s]
    assert not leaks, leaks[0][:500]
    if style.name.startswith("curl_") or style.name.endswith("_header"):
        # the key became api_key with the scheme that sends it back the same way
        assert chat.api_key is not None and SECRET in chat.api_key.get_secret_value()
        assert dumpd(chat)["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["DOMESTIC_LLM_API_KEY"]}


def _li_user(text: str) -> Any:
    from llama_index.core.base.llms.types import ChatMessage

    return ChatMessage(role="user", content=text)


def _remove_handler(handler: Any) -> None:
    from llama_index.core.instrumentation import get_dispatcher

    dispatcher = get_dispatcher()
    dispatcher.event_handlers = [h for h in dispatcher.event_handlers if h is not handler]


def test_a_second_key_header_stays_a_header_but_secret(emulator, monkeypatch):
    emulator.state.api_key = SECRET
    chat = ChatDomestic(model="qwen-72b", base_url=emulator.base_url, api_key=SECRET,
                        default_headers={"X-Api-Key": "sk-second-key-0000", "X-Tenant": "t1"})
    assert chat.invoke("hi").content
    assert emulator.requests[-1].headers["x-api-key"] == "sk-second-key-0000"
    assert emulator.requests[-1].headers["x-tenant"] == "t1"
    for text in (repr(chat), dumps(chat), str(chat.model_dump())):
        assert "sk-second-key-0000" not in text
    # a secret reference (langchain-core escapes it, being nested) that load() resolves from the environment
    marker = dumpd(chat)["kwargs"]["default_headers"]["X-Api-Key"]
    assert marker.get("__lc_escaped__", marker) == {"lc": 1, "type": "secret", "id": ["DOMESTIC_LLM_HEADER_X_API_KEY"]}
    monkeypatch.setenv("DOMESTIC_LLM_HEADER_X_API_KEY", "sk-second-key-0000")
    restored = load(dumpd(chat), secrets_map={"DOMESTIC_LLM_API_KEY": SECRET}, valid_namespaces=["langchain_domestic_llm"],
                    allowed_objects=[ChatDomestic])
    assert restored.invoke("hi").content
    assert emulator.requests[-1].headers["x-api-key"] == "sk-second-key-0000"
    monkeypatch.delenv("DOMESTIC_LLM_HEADER_X_API_KEY")
    with pytest.raises(ValueError, match="DOMESTIC_LLM_HEADER_X_API_KEY"):
        load(dumpd(chat), secrets_map={"DOMESTIC_LLM_API_KEY": SECRET}, valid_namespaces=["langchain_domestic_llm"],
             allowed_objects=[ChatDomestic])
    llm = DomesticLLM(model="qwen-72b", base_url=emulator.base_url, api_key=SECRET,
                      default_headers={"X-Api-Key": "sk-second-key-0000"})
    assert "sk-second-key-0000" not in llm.to_json()


def test_a_url_key_beside_another_key_is_refused_without_echoing_it():
    from domestic_llm import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        ChatDomestic(model="m", endpoint=f"http://h/v1/chat/completions?access_token={SECRET}", api_key="other")
    assert "access_token=***" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("kwargs", [
    {"api_key": "k"},
    {"token_provider": lambda: "k"},
    {"default_headers": {"apikey": "k"}},
    {"default_headers": {"Authorization": "Bearer k"}},
    {"endpoint": "http://10.1.2.3:8000/v1/chat/completions?access_token=k"},
], ids=["api_key", "token_provider", "apikey_header", "authorization_header", "query"])
def test_plain_http_warning_for_every_credential_source(kwargs, caplog):
    kwargs = {"endpoint": "http://10.1.2.3:8000/v1/chat/completions", **kwargs}
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        ChatClient(model="m", **kwargs)
        ChatDomestic(model="m", **kwargs)
    warned = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warned) == 2 and all("10.1.2.3" in w and "=k" not in w for w in warned)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("[::1]", True),
    ("127.evil.example.com", False), ("localhost.evil.example.com", False), ("10.0.0.5", False),
    ("127.0.0.1.nip.io", False),
])
def test_loopback_is_parsed_not_prefix_matched(host, loopback, caplog):
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        ChatClient(model="m", base_url=f"http://{host}:8000/v1", api_key="k")
    warned = any("plain http" in r.getMessage() for r in caplog.records)
    assert warned is (not loopback)


def test_connection_errors_with_a_url_key_never_show_it(caplog):
    from domestic_llm import APIConnectionError

    caplog.set_level(logging.DEBUG)
    client = ChatClient(model="m", endpoint=f"http://127.0.0.1:9/v1/chat/completions?access_token={SECRET}",
                        max_retries=0, connect_timeout=2)
    with pytest.raises(APIConnectionError) as info:
        client.invoke("hi")
    surfaces = _error_surfaces(info.value) + [f"{r.getMessage()} {r.args}" for r in caplog.records]
    assert "access_token=***" in str(info.value) or "127.0.0.1:9" in str(info.value)
    assert not [s for s in surfaces if SECRET in s]


def test_query_key_reaches_embedding_route_and_stays_secret(emulator):
    """A key given as `?access_token=` on an embedding endpoint is sent on the query and never shown."""
    from domestic_llm.embeddings import EmbeddingClient

    emulator.state.api_key = SECRET
    emulator.state.auth_location = "query:access_token"
    client = EmbeddingClient(model="bge-m3", endpoint=f"{emulator.base_url}/embeddings?access_token={SECRET}")
    vectors = client.embed(["你好", "世界"])
    assert len(vectors) == 2 and all(any(v) for v in vectors)
    assert SECRET not in repr(client)
    assert emulator.requests[-1].path.endswith("/v1/embeddings")


RETRIEVAL_STYLES = [s for s in STYLES if s.name in ("apikey_header", "x_api_key_header", "access_token_query")]


@pytest.mark.parametrize("style", RETRIEVAL_STYLES, ids=[s.name for s in RETRIEVAL_STYLES])
def test_retrieval_adapters_keep_a_header_or_url_key_secret(style, emulator, caplog):
    """Embedding and rerank settings lift a key out of headers and URLs as the chat settings do."""
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from langchain_domestic_llm import DomesticEmbeddings, DomesticReranker
    from llamaindex_domestic_llm import DomesticEmbedding, DomesticRerank

    emulator.state.api_key = style.server_key
    emulator.state.auth_location = style.where
    caplog.set_level(logging.DEBUG)
    chat_kwargs = style.kwargs(emulator)

    def kwargs(route: str) -> dict[str, Any]:
        kw = dict(chat_kwargs)
        kw["endpoint"] = kw["endpoint"].replace("/chat/completions", route)
        return kw

    docs = ["长江是中国最长的河流", "黄河是中国第二长河"]
    surfaces: list[str] = []
    for cls in (DomesticEmbeddings, DomesticEmbedding):
        emb = cls(model="bge-m3", max_retries=0, **kwargs("/embeddings"))
        vectors = emb.embed_documents(docs) if cls is DomesticEmbeddings else emb.get_text_embedding_batch(docs)
        assert len(vectors) == 2 and all(any(v) for v in vectors)  # the key travelled where the style puts it
        surfaces += [repr(emb), str(emb), json.dumps(emb.model_dump(), default=str), str(emb.client.__dict__)]
    reranker = DomesticReranker(model="bge-reranker", max_retries=0, **kwargs("/rerank"))
    assert reranker.compress_documents([Document(page_content=d) for d in docs], "长江")
    rerank = DomesticRerank(model="bge-reranker", max_retries=0, **kwargs("/rerank"))
    assert rerank.postprocess_nodes([NodeWithScore(node=TextNode(text=d)) for d in docs], QueryBundle("长江"))
    for obj in (reranker, rerank):
        surfaces += [repr(obj), str(obj), json.dumps(obj.model_dump(), default=str)]
    surfaces += [r.getMessage() for r in caplog.records]
    assert not [s for s in surfaces if SECRET in s]
