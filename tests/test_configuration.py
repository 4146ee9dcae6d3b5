"""Configuration is never dropped silently: unknown arguments, URL hygiene, from_curl flags."""

from __future__ import annotations

import base64
import logging

import pytest

from domestic_llm import ChatClient, ConfigurationError
from domestic_llm.curl import client_kwargs_from_curl
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

ADAPTERS = [ChatDomestic, DomesticLLM]


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("name", "suggestion"), [
    ("temprature", "temperature"), ("max_token", "max_tokens"), ("bogus", None), ("repetition_penalty", None),
    ("top_P", "top_p"),
])
def test_unknown_arguments_raise_naming_the_closest_field(cls, name, suggestion):
    with pytest.raises(ConfigurationError) as info:
        cls(model="m", base_url="http://127.0.0.1:9/v1", **{name: 0.5})
    message = str(info.value)
    assert f"`{name}`=0.5" in message and "model_kwargs=" in message
    if suggestion:
        assert f"did you mean `{suggestion}`?" in message
    else:
        assert "did you mean" not in message or "penalty" in message


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
def test_an_unknown_secret_looking_argument_is_not_echoed(cls):
    with pytest.raises(ConfigurationError) as info:
        cls(model="m", base_url="http://127.0.0.1:9/v1", apikey="sk-should-not-show")
    assert "did you mean `api_key`?" in str(info.value) and "sk-should-not-show" not in str(info.value)


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("alias", ["extra_body", "additional_kwargs", "model_kwargs"])
def test_extra_body_aliases_reach_the_server(cls, alias, emulator):
    llm = cls(model="qwen-72b", base_url=emulator.base_url, **{alias: {"repetition_penalty": 1.1}})
    assert llm.model_kwargs == {"repetition_penalty": 1.1}
    llm.invoke("hi") if cls is ChatDomestic else llm.complete("hi")
    assert emulator.requests[-1].json["repetition_penalty"] == 1.1


def test_extra_body_and_model_kwargs_merge_and_clash_is_an_error():
    llm = ChatDomestic(model="m", base_url="http://127.0.0.1:9/v1", model_kwargs={"a": 1}, extra_body={"b": 2})
    assert llm.model_kwargs == {"a": 1, "b": 2}
    with pytest.raises(ConfigurationError, match="both set"):
        ChatDomestic(model="m", base_url="http://127.0.0.1:9/v1", model_kwargs={"a": 1}, extra_body={"a": 2})


def test_llamaindex_logprobs_argument_is_kept_and_sent(emulator):
    llm = DomesticLLM(model="qwen-72b", base_url=emulator.base_url, logprobs=True, top_logprobs=2)
    response = llm.chat([_li_user("hi")])
    assert emulator.requests[-1].json["logprobs"] is True and emulator.requests[-1].json["top_logprobs"] == 2
    assert response.logprobs and response.logprobs[0][0].token


def _li_user(text):
    from llama_index.core.base.llms.types import ChatMessage

    return ChatMessage(role="user", content=text)


# ---- URL hygiene ----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["http://127.0.0.1:9/v1\n", "  http://127.0.0.1:9/v1 ", "HTTP://127.0.0.1:9/v1",
                                 "Http://127.0.0.1:9/v1/"])
def test_pasted_urls_are_tidied(raw, monkeypatch):
    assert ChatClient(model="m", base_url=raw).url == "http://127.0.0.1:9/v1/chat/completions"
    assert ChatDomestic(model="m", base_url=raw).client.url == "http://127.0.0.1:9/v1/chat/completions"
    monkeypatch.setenv("DOMESTIC_LLM_BASE_URL", raw)
    assert ChatDomestic(model="m").client.url == "http://127.0.0.1:9/v1/chat/completions"
    assert ChatClient(model="m").url == "http://127.0.0.1:9/v1/chat/completions"


def test_whitespace_inside_a_url_is_refused_with_the_raw_value():
    with pytest.raises(ConfigurationError) as info:
        ChatClient(model="m", base_url="http://127.0.0.1:9/v1\n/chat")
    assert "'http://127.0.0.1:9/v1\\n/chat'" in str(info.value) and "base_url=" in str(info.value)


def test_query_string_stays_after_the_appended_path(emulator):
    client = ChatClient(model="qwen-72b", base_url=emulator.base_url + "?api-version=2024-06-01")
    assert client.url == emulator.base_url + "/chat/completions?api-version=2024-06-01"
    assert client.invoke("hi").text
    assert emulator.requests[-1].path == "/v1/chat/completions"


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
def test_missing_model_is_refused_at_construction_unless_per_call(cls, emulator, monkeypatch):
    monkeypatch.delenv("DOMESTIC_LLM_MODEL", raising=False)
    with pytest.raises(ValueError, match="model is not set.*model_per_call=True"):
        cls(base_url=emulator.base_url)
    llm = cls(base_url=emulator.base_url, model_per_call=True)
    if cls is ChatDomestic:
        assert llm.invoke("hi", model="qwen-72b").content
    else:
        assert llm.complete("hi", model="qwen-72b").text
    assert emulator.requests[-1].json["model"] == "qwen-72b"


# ---- from_curl ------------------------------------------------------------------------------

URL = "https://gw.example.com/v1/chat/completions"


def test_curl_json_flag_is_a_body():
    kwargs = client_kwargs_from_curl(f"curl {URL} --json '{{\"model\": \"qwen\", \"temperature\": 0.3}}'")
    assert kwargs["model"] == "qwen" and kwargs["params"] == {"temperature": 0.3}


def test_curl_insecure_and_cacert(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        assert client_kwargs_from_curl(f"curl -k {URL}")["verify"] is False
        assert client_kwargs_from_curl(f"curl -sSk {URL}")["verify"] is False
        assert client_kwargs_from_curl(f"curl --insecure {URL}")["verify"] is False
    assert sum("--insecure" in r.getMessage() for r in caplog.records) == 3
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert client_kwargs_from_curl(f"curl --cacert {ca} {URL}")["verify"] == str(ca)
    assert "verify" not in client_kwargs_from_curl(f"curl {URL}")


@pytest.mark.parametrize(("header", "scheme"), [
    ("Authorization: Bearer sk-1", "bearer"), ("Authorization: sk-1", "raw"), ("X-Auth-Token: sk-1", "x-auth-token"),
    ("apikey: sk-1", "header:apikey"), ("X-Api-Key: sk-1", "header:X-Api-Key"), ("api-key: sk-1", "header:api-key"),
    ("token: sk-1", "header:token"), ("X-Gateway-Secret: sk-1", "header:X-Gateway-Secret"),
])
def test_curl_any_key_header_becomes_the_key(header, scheme):
    kwargs = client_kwargs_from_curl(f"curl {URL} -H '{header}' -H 'X-Tenant: t1'")
    assert (kwargs["api_key"], kwargs["auth_scheme"]) == ("sk-1", scheme)
    assert kwargs["default_headers"] == {"X-Tenant": "t1"}


def test_curl_user_is_basic_auth(emulator):
    emulator.state.api_key, emulator.state.auth_location = "admin:pw-1234", "basic"
    curl = f"curl {emulator.base_url}/chat/completions -u admin:pw-1234 -d '{{\"model\": \"qwen-72b\"}}'"
    llm = ChatDomestic.from_curl(curl)
    assert llm.auth_scheme == "basic" and llm.invoke("hi").content
    sent = emulator.requests[-1].headers["authorization"]
    assert sent == "Basic " + base64.b64encode(b"admin:pw-1234").decode()


def test_curl_x_auth_token_on_a_non_pangu_url(emulator):
    emulator.state.api_key, emulator.state.auth_location = "tok-1", "header:x-auth-token"
    llm = DomesticLLM.from_curl(f"curl {emulator.base_url}/chat/completions -H 'X-Auth-Token: tok-1' "
                                "-d '{\"model\": \"qwen-72b\"}'")
    assert llm.api_key.get_secret_value() == "tok-1" and llm.complete("hi").text


def test_list_models_sends_the_key_where_chat_does_and_keeps_the_query(emulator):
    from domestic_llm.models import fetch_served_models

    emulator.state.api_key, emulator.state.auth_location = "sk-q", "query:access_token"
    client = ChatClient(model="qwen-72b", base_url=emulator.base_url + "?api-version=1&access_token=sk-q")
    assert client.url == emulator.base_url + "/chat/completions?api-version=1"
    assert client.list_models() == ["emulated"] and client.invoke("hi").text
    assert fetch_served_models(client)[0].max_model_len == 32768
    emulator.state.api_key = "another"
    with pytest.raises(Exception, match="401"):
        client.list_models()  # the route is guarded: the passes above did carry the key
