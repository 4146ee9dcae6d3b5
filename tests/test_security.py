"""Secrets never leak (repr, str, serialisation, logs, errors, tracing); TLS verification is real."""

from __future__ import annotations

import json
import logging

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

from domestic_llm import APIConnectionError, AuthenticationError, ChatClient
from domestic_llm.auth import HuaweiIAMTokenProvider
from domestic_llm.testing import Emulator, Fault
from langchain_domestic_llm import ChatDomestic
from llamaindex_domestic_llm import DomesticLLM

SECRET = "sk-TOPSECRET-0123456789"


def models(emulator):
    emulator.state.api_key = SECRET
    return (ChatDomestic(model="qwen-72b", base_url=emulator.base_url, api_key=SECRET),
            DomesticLLM(model="qwen-72b", base_url=emulator.base_url, api_key=SECRET),
            ChatClient(model="qwen-72b", base_url=emulator.base_url, api_key=SECRET))


def test_repr_and_str(emulator):
    for obj in models(emulator):
        assert SECRET not in repr(obj) and SECRET not in str(obj)
    provider = HuaweiIAMTokenProvider(iam_url="https://iam", username="u", password=SECRET, domain_name="d",
                                      project_id="p")
    assert SECRET not in repr(provider) and SECRET not in str(provider)


def test_langchain_serialisation_emits_a_secret_reference(emulator):
    chat, _, _ = models(emulator)
    assert dumpd(chat)["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["DOMESTIC_LLM_API_KEY"]}
    assert SECRET not in dumps(chat) and SECRET not in json.dumps(chat._identifying_params)
    assert SECRET not in str(chat._get_ls_params())


def test_llamaindex_serialisation(emulator):
    _, llm, _ = models(emulator)
    assert SECRET not in llm.to_json() and SECRET not in str(llm.to_dict()) and "api_key" not in llm.to_dict()


def test_logs_never_contain_the_secret(emulator, caplog):
    chat, llm, client = models(emulator)
    emulator.fault(Fault(status=503, times=1, retry_after="0"))
    emulator.state.reject_stream_options = True
    with caplog.at_level(logging.DEBUG):
        chat.invoke("hi")
        list(chat.stream("hi"))
        llm.complete("hi")
        list(client.stream("hi"))
        emulator.fault(Fault(status=401, body={"error": {"message": f"bad token {SECRET}"}}))
        with pytest.raises(AuthenticationError):
            client.invoke("hi")
        ChatClient(model="m", base_url="http://10.1.2.3:8000/v1", api_key=SECRET)
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    assert len(caplog.records) >= 3 and SECRET not in text


def test_errors_never_contain_the_secret_even_when_the_server_echoes_it(emulator):
    _, _, client = models(emulator)
    emulator.fault(Fault(status=401, body={"error": {"message": f"token {SECRET} is invalid", "code": "bad"}}))
    with pytest.raises(AuthenticationError) as info:
        client.invoke("hi")
    exc = info.value
    assert "token *** is invalid" in str(exc)
    for surface in (str(exc), repr(exc), str(exc.args), str(exc.body), str(exc.server_message), str(vars(exc))):
        assert SECRET not in surface
    bad = ChatClient(model="m", base_url=f"http://user:{SECRET}@127.0.0.1:9/v1", max_retries=0, connect_timeout=1)
    with pytest.raises(APIConnectionError) as info:
        bad.invoke("hi")
    assert SECRET not in str(info.value) and SECRET not in str(vars(info.value))


def test_tracing_metadata_never_contains_the_secret(emulator):
    chat, _, _ = models(emulator)
    seen = []

    class Spy(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, **kwargs):
            seen.append(json.dumps({"serialized": serialized, **kwargs}, default=str))

    collector = RunCollectorCallbackHandler()
    chat.invoke("hi", config={"callbacks": [Spy(), collector], "metadata": {"tenant": "t"}})
    list(chat.stream("hi", config={"callbacks": [Spy(), collector]}))
    assert seen and all(SECRET not in s for s in seen)
    assert collector.traced_runs and all(SECRET not in json.dumps(r.dict(), default=str) for r in collector.traced_runs)


def test_plain_http_with_a_key_warns_once(caplog):
    with caplog.at_level(logging.WARNING, logger="domestic_llm"):
        ChatClient(model="m", base_url="http://10.1.2.3:8000/v1", api_key="k")
        ChatClient(model="m", base_url="https://10.1.2.3:8000/v1", api_key="k")
        ChatClient(model="m", base_url="http://10.1.2.3:8000/v1")
        ChatClient(model="m", base_url="http://127.0.0.1:8000/v1", api_key="k")  # loopback: nothing crosses a network
    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1 and "10.1.2.3" in warnings[0].getMessage()


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    d = tmp_path_factory.mktemp("tls")
    ca_path, cert_path, key_path = d / "ca.pem", d / "cert.pem", d / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    with Emulator(ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)) as emu:
        yield emu, str(ca_path)


def test_tls_with_a_private_ca_bundle(tls_emulator):
    emu, ca_path = tls_emulator
    assert emu.base_url.startswith("https://localhost:")
    assert ChatDomestic(model="qwen-72b", base_url=emu.base_url, verify=ca_path).invoke("hi").content
    assert list(ChatDomestic(model="qwen-72b", base_url=emu.base_url, verify=ca_path).stream("hi"))


def test_tls_verification_is_on_by_default(tls_emulator, monkeypatch):
    emu, _ = tls_emulator
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
        ChatDomestic(model="qwen-72b", base_url=emu.base_url, max_retries=0).invoke("hi")
    assert ChatDomestic(model="qwen-72b", base_url=emu.base_url, verify=False).invoke("hi").content
