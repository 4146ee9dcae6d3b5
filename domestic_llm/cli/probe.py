"""`domestic-llm probe URL`: what an endpoint is and does, in a report a person can paste into a ticket.

It sends at most five small requests (each answer capped by a tiny `max_tokens`):
the model list (OpenAI-style servers only), one plain answer, one streamed answer
(plus the client's own retry without `stream_options` if a strict server refuses
it), and one answer with a tool offered. Every request is shown afterwards as it
went on the wire, with the key redacted. The chat requests go through the normal
`ChatClient`, so the probe sees the endpoint exactly as applications will.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..client import ChatClient
from ..config import env
from ..models import fetch_served_models
from ..dialects import get_dialect, infer_dialect, known_dialects
from ..errors import (
    AuthenticationError,
    BadRequestError,
    DomesticLLMError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    redact_url,
)
from ..types import ChatRequest, ChatResult, Message
from .detect import classify_body, is_base_path, lists_models, path_candidates, prompt_style
from .errors import EXIT_USAGE, CLIError, check_url, explain
from .report import Recorder, Report

PROBE_MAX_TOKENS = 16  # enough for a word of answer or the start of reasoning; cheap on any server
PROBE_PROMPT = "Reply with the single word: ok"
TOOL_PROMPT = "What time is it now? Use the get_current_time tool."
PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_time",
        "description": "The current local time.",
        "parameters": {"type": "object", "properties": {}},
    },
}


class Probe:
    def __init__(self, url: str, *, api_key: str | None, model: str | None, dialect: str | None,
                 timeout: float, verify: bool | str) -> None:
        self.url = url
        self.api_key = api_key if api_key is not None else env("API_KEY")
        self.model = model or env("MODEL")
        self.dialect_name = dialect
        self.timeout = timeout
        self.verify = verify
        self.recorder = Recorder(self.api_key)
        self.report = Report(endpoint=redact_url(url), exchanges=self.recorder.exchanges)
        self._http: httpx.Client | None = None
        self.candidates: list[str] = []  # dialects sharing the URL's path, tried in order by the first answer

    # ---- raw requests the ChatClient does not make -------------------------------------

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, verify=self.verify, event_hooks=self.recorder.hooks(),
                                      follow_redirects=False, trust_env=True)
        return self._http

    def _raw(self, method: str, url: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
        from ..errors import APIConnectionError, APITimeoutError

        try:
            return self.http.request(method, url, headers=headers, json=body)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"timed out talking to {redact_url(url)}", url=url) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(f"cannot reach {redact_url(url)}: {exc}", url=url) from exc

    # ---- steps ---------------------------------------------------------------------------

    def find_dialect(self) -> None:
        r = self.report
        parsed = check_url("URL", self.url)
        r.add("endpoint", r.endpoint)
        if self.dialect_name:
            r.dialect, r.dialect_source, r.chat_url = self.dialect_name, "--dialect", self.url
            chosen = get_dialect(self.dialect_name)
            if is_base_path(parsed.path):  # a prefix, as base_url: the dialect appends its own path
                prefix = self.url.rstrip("/")
                if chosen.chat_path == "/chat/completions" and not parsed.path.rstrip("/").endswith("/v1"):
                    prefix += "/v1"  # OpenAI-style routes live under /v1
                r.chat_url = chosen.chat_url(prefix)
            r.add("dialect", f"{r.dialect} (from --dialect)")
            return
        inferred = infer_dialect(self.url)
        if inferred is not None:
            r.dialect, r.dialect_source, r.chat_url = inferred.name, "path", self.url
            self.candidates = path_candidates(parsed.path, inferred.name)
            others = f"; also the path of {', '.join(self.candidates[1:])}" if len(self.candidates) > 1 else ""
            r.add("dialect", f"{inferred.name} (from the URL path {parsed.path}{others})")
            return
        auth = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        if is_base_path(parsed.path):
            base = self.url.rstrip("/") + ("" if parsed.path.rstrip("/").endswith("/v1") else "/v1")
            r.chat_url = base + "/chat/completions"
            if self.served_models("openai", quiet=True):
                r.dialect, r.dialect_source = "openai", "models"
                r.add("dialect", f"openai (GET {redact_url(base)}/models answered an OpenAI model list; "
                                 f"chat route {redact_url(r.chat_url)})")
                return
        # the path says nothing: one tiny request to the URL as given, and read the answer's shape
        body = {"model": self.model or "default", "messages": [{"role": "user", "content": PROBE_PROMPT}],
                "max_tokens": PROBE_MAX_TOKENS, "stream": False}
        resp = self._raw("POST", self.url, {"Accept": "application/json", **auth}, body)
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        name = classify_body(answer)
        if name is None:
            raise CLIError(
                f"cannot tell the dialect of {redact_url(self.url)}: its path is not one a dialect documents and its "
                f"answer (HTTP {resp.status_code}) has no known shape — pass the full chat URL from your vendor "
                f"document, or --dialect one of: {', '.join(known_dialects())}", EXIT_USAGE)
        if name not in known_dialects():
            raise CLIError(f"{redact_url(self.url)} answers like a {name} server, which this version of "
                           f"domestic-llm does not speak; its dialects are: {', '.join(known_dialects())}", EXIT_USAGE)
        r.dialect, r.dialect_source, r.chat_url = name, "answer", self.url
        r.add("dialect", f"{name} (the path is not documented; the answer's shape, HTTP {resp.status_code}, is {name}'s)")

    def served_models(self, dialect: str, quiet: bool = False) -> bool:
        """List the models (and the context length where listed); False if the server would not.

        OpenAI-style servers through the core's `fetch_served_models` (it keeps vLLM's
        `max_model_len`), others through `ChatClient.list_models` (TGI `/info`, Triton's index).
        """
        r = self.report
        client = self.client(dialect)
        try:
            if dialect == "openai":
                served = fetch_served_models(client)
                r.models = [m.id for m in served]
            else:
                served, r.models = [], client.list_models()
        except DomesticLLMError as exc:
            if not quiet:
                r.add("models", f"not listed (HTTP {exc.status})" if exc.status else f"not listed: {explain(exc)[0]}")
            return False
        finally:
            client.close()
        r.add("models", ", ".join(r.models) if r.models else "the list is empty")
        self.model = self.model or (r.models[0] if r.models else None)
        lengths = {m.id: m.max_model_len for m in served}
        r.context_length = lengths.get(self.model or "") or (served[0].max_model_len if len(served) == 1 else None)
        r.add("context length", f"{r.context_length} tokens (max_model_len)" if r.context_length
              else "not reported by the model list")
        return True

    def find_models(self) -> None:
        r = self.report
        if r.models is not None:
            return
        assert r.dialect is not None
        if r.dialect == "openai" or lists_models(get_dialect(r.dialect)):
            self.served_models(r.dialect)
        else:
            r.add("models", f"no model list in the {r.dialect} dialect; pass --model NAME")
            r.add("context length", "not reported (no model list)")

    def client(self, dialect: str) -> ChatClient:
        r = self.report
        assert r.chat_url is not None
        r.model = self.model or "default"
        client = ChatClient(endpoint=r.chat_url, dialect=dialect, api_key=self.api_key, model=r.model,
                            timeout=self.timeout, verify=self.verify, max_retries=0, think_tags="keep")
        # The probe shows what went on the wire: hook the client's own httpx client (sync)
        # rather than rebuilding the request beside it, so what is printed is what was sent.
        client.transport.client.event_hooks = self.recorder.hooks()
        return client

    def first_answer(self) -> tuple[ChatClient, ChatResult]:
        """A plain answer from the first dialect (of those sharing the path) whose request the server takes."""
        r = self.report
        names = self.candidates or [r.dialect or "openai"]
        for i, name in enumerate(names):
            client = self.client(name)
            request = ChatRequest(model=client.model, messages=[Message("user", PROBE_PROMPT)],
                                  params={"max_tokens": PROBE_MAX_TOKENS})
            try:
                return client, client.invoke(request)
            except (BadRequestError, MalformedResponseError, ServerError) as exc:
                client.close()
                if i + 1 == len(names):
                    raise
                r.add("tried", f"{name}: {explain(exc)[0]}")
            except BaseException:
                client.close()
                raise
        raise AssertionError("unreachable: the loop returns or raises")

    def plain_answer(self) -> ChatClient:
        r = self.report
        first = r.dialect
        try:
            client, result = self.first_answer()
        except (AuthenticationError, PermissionDeniedError) as exc:
            r.auth_ok = False
            r.auth = f"REJECTED: HTTP {exc.status}" + (f" {exc.server_message}" if exc.server_message else "")
            r.add("auth", r.auth + " — check the key and how it is sent (Bearer, raw, X-Auth-Token)")
            raise
        except NotFoundError as exc:
            r.add("chat", f"HTTP 404 {exc.server_message or ''} — wrong path, or the model {r.model!r} "
                          "is not served (pass --model)")
            raise
        if client.dialect.name != first:
            r.dialect = client.dialect.name
            r.replace("dialect", f"{r.dialect} (the path is also {first}'s; this server took {r.dialect}'s request)")
        r.auth_ok = True
        if self.api_key:
            r.auth = f"ok: the key was accepted (sent as {client.auth_scheme or client.dialect.auth_scheme})"
        else:
            r.auth = "ok: no key sent and the server answered without one"
        r.add("auth", r.auth)
        r.add("model used", client.model + ("" if self.model else " (no --model given and none listed)"))
        if prompt_style(client.dialect):
            r.add("reasoning", "no reasoning parser on a prompt-style server: the chat template and think_tags "
                               "decide how <think> is split (see the README)")
        elif "<think>" in result.text or "</think>" in result.text:
            r.reasoning = "inline_think"
            r.add("reasoning", "inline <think> tags in the answer text: no reasoning parser is active on the "
                               "server (the client splits them with think_tags='split')")
        elif result.reasoning:
            r.reasoning = "field"
            r.add("reasoning", "in a separate field (reasoning_content/reasoning): a reasoning parser is active")
        else:
            r.reasoning = "none"
            r.add("reasoning", f"none in this answer ({client.model} did not reason; probe a reasoning model "
                               "with --model to check for a parser)")
        if result.usage is not None:
            u = result.usage
            r.usage = {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens, "total_tokens": u.total_tokens}
            r.add("usage", f"reported: {u.input_tokens} in, {u.output_tokens} out, {u.total_tokens} total")
        else:
            r.add("usage", "not reported in a plain answer")
        return client

    def streamed_answer(self, client: ChatClient) -> None:
        r = self.report
        first = len(self.recorder.exchanges)
        request = ChatRequest(model=client.model, messages=[Message("user", PROBE_PROMPT)],
                              params={"max_tokens": PROBE_MAX_TOKENS})
        pieces = 0
        usage = None
        started = time.perf_counter()
        first_token: float | None = None
        try:
            for chunk in client.stream(request):
                if chunk.text or chunk.reasoning:
                    pieces += 1
                    if first_token is None:
                        first_token = time.perf_counter() - started
                if chunk.final:
                    usage = chunk.usage
            error = None
        except DomesticLLMError as exc:
            error = exc
        sent = self.recorder.exchanges[first:]
        asked = [ex for ex in sent if isinstance(ex.body, dict) and "stream_options" in ex.body]
        last = sent[-1] if sent else None
        kind = (last.content_type or "").split(";")[0] if last else ""
        if error is None:
            r.streams = True
            ttft = f", first token after {first_token:.2f} s" if first_token is not None else ""
            r.add("streams", f"yes ({kind or 'no content type'}, {pieces} pieces{ttft})")
        else:
            r.streams = False
            hint = f"answered {kind} to stream=true" if kind and "event-stream" not in kind else explain(error)[0]
            r.add("streams", f"no: {hint}")
        if asked:
            refused = asked[0].status is not None and asked[0].status >= 400
            r.stream_options_accepted = not refused
            r.add("stream_options", f"rejected (HTTP {asked[0].status}); the client retried without it"
                  if refused else "accepted")
        else:
            r.add("stream_options", f"not sent (the {client.dialect.name} dialect does not use it)")
        if error is None:
            r.stream_usage = usage is not None
            if usage is None:
                r.add("stream usage", "no: the stream carried no usage" +
                      (" even with stream_options.include_usage" if r.stream_options_accepted else ""))
            else:
                how = "when asked with stream_options.include_usage" if r.stream_options_accepted else "without being asked"
                r.add("stream usage", f"yes, {how} ({usage.input_tokens} in, {usage.output_tokens} out)")

    def tools(self, client: ChatClient) -> None:
        r = self.report
        if not client.dialect.supports_tools:
            r.add("tools", f"not carried by the {client.dialect.name} dialect (no request sent)")
            return
        request = ChatRequest(model=client.model, messages=[Message("user", TOOL_PROMPT)],
                              params={"max_tokens": PROBE_MAX_TOKENS}, tools=[PROBE_TOOL], tool_choice="auto")
        try:
            result = client.invoke(request)
        except DomesticLLMError as exc:
            r.tools_accepted = False
            r.add("tools", f"rejected: {explain(exc)[0]}")
            return
        r.tools_accepted = True
        calls = result.choices[0].tool_calls if result.choices else []
        if calls:
            r.tool_called = calls[0].name
            r.add("tools", f"accepted; the model called {calls[0].name}({calls[0].arguments})")
        else:
            r.add("tools", "accepted, but the model answered in text (no tool parser, or it chose not to call; "
                           "tool calls may arrive as text markup)")

    def run(self) -> Report:
        """Run every step; a fatal error (connection, auth, 404) is recorded in the report and re-raised."""
        r = self.report
        client: ChatClient | None = None
        try:
            self.find_dialect()
            self.find_models()
            client = self.plain_answer()
            self.streamed_answer(client)
            self.tools(client)
        except Exception as exc:
            r.error = explain(exc)[0]
            raise
        finally:
            if client is not None:
                client.close()
            if self._http is not None:
                self._http.close()
        return r
