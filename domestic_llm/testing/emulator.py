"""A real HTTP server on a loopback port that speaks every dialect, for demos and tests.

```python
from domestic_llm.testing import Emulator

with Emulator() as emu:                      # free port, background thread
    ChatDomestic(model="qwen-72b", base_url=emu.base_url).invoke("你好")
    emu.requests[-1].json                    # what the server received
```

From the command line: `python -m domestic_llm.testing --port 8000`.

Deterministic by construction (see `replies`); streams real bytes, optionally
cut into `chunk_bytes`-sized writes with `delay` seconds between them. A test
can `script()` the replies it wants and read back `requests`.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from .behaviours import ServerBehaviour, check_request, continuation_reply, shape
from .dialects import EMULATED, EmulatedDialect, RenderContext
from .faults import Fault, fault_answer, hang, send_events, trickle
from .prompt_servers import prompt_server_routes
from .rag import rag_routes
from .serving import DropsQuietly, as_llamacpp_reads, credential_at, quiet_drops
from .replies import Reply, default_reply


@dataclass
class RecordedRequest:
    """A request as the emulator received it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    client: tuple[str, int] | None = None  # the peer address: distinct ports = distinct connections


@dataclass
class EmulatorState:
    api_key: str | None = None
    #: where the key must be instead of the dialect's own place: "header:<Name>", "query:<name>" or "basic"
    auth_location: str | None = None
    max_model_len: int | None = 32768  # reported by GET /v1/models (vLLM's field)
    chunk_bytes: int | None = None
    delay: float = 0.0
    reject_stream_options: bool = False
    tool_deltas: str = "openai"  # or "hermes": vLLM hermes-parser style tool-call deltas; "repeat": llama.cpp
    reject_json_schema: bool = False  # llama.cpp (testing.llamacpp): json_schema → 500, tools only if named, …
    named_tool_choice_only: bool = False
    ignore_stream_options: bool = False
    behaviour: ServerBehaviour = field(default_factory=ServerBehaviour)  # reasoning/tool quirks (behaviours.py)
    requests: list[RecordedRequest] = field(default_factory=list)
    script: deque[Reply] = field(default_factory=deque)
    faults: deque[Fault] = field(default_factory=deque)
    counter: int = 0
    in_flight: int = 0  # requests being answered now, and the most at any moment
    max_in_flight: int = 0
    # open client connections, counted when each request arrives (a connection is opened to send
    # one, so the most ever open is seen at some arrival); set by Emulator.start
    open_connections: Any = None
    max_open_connections: int = 0
    # Huawei IAM emulation: tokens issued by /v3/auth/tokens; when not None, pangu_v1 accepts only these
    iam_password: str = "emu-password"
    iam_tokens: set[str] | None = None
    iam_ttl: float = 24 * 3600
    iam_issued: int = 0
    # model discovery: when set, chat routes answer 404 for other models, and /v1/models lists these
    served_models: list[str] | None = None
    # prompt-style servers (see prompt_servers): vLLM's stream separator, Triton's output styles
    vllm_separator: str = "\n"
    triton_echo: bool = True
    triton_stream: str = "delta"
    rag: Any = None  # testing/rag.py's RagState: embedding / rerank / tokenize knobs


def _build_app(state: EmulatorState) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Route

    routes = [Route(path, _chat_endpoint(state, d), methods=["POST"]) for d in EMULATED for path in d.routes]
    routes += prompt_server_routes(state)
    routes.append(Route("/v3/auth/tokens", _iam_endpoint(state), methods=["POST"]))
    routes.append(Route("/v1/models", _models_endpoint(state), methods=["GET"]))
    routes.extend(rag_routes(state))  # embeddings, rerank, tokenize (testing/rag.py)
    return DropsQuietly(Starlette(routes=routes))


def _chat_endpoint(state: EmulatorState, route_dialect: EmulatedDialect) -> Any:
    async def endpoint(request: Any) -> Any:
        body = await _record(state, request)
        dialect = route_dialect.serving(body)  # servers sharing a route (TGI, vLLM's demo) tell by the body
        fault = _take_fault(state)
        if fault is not None and fault.hang and await hang(request, fault.hang):
            from starlette.responses import Response

            return Response(status_code=499)  # the client gave up: nobody will read this
        if isinstance(body, dict):
            body = as_llamacpp_reads(state, body)
        refusal = fault_answer(fault, dialect) or _refusal(state, dialect, request, body)
        if refusal is not None:
            return refusal
        body = dialect.chat_view(body)
        reply = state.script.popleft() if state.script else continuation_reply(body)
        reply = reply or default_reply(body, str(body.get("model") or ""), dialect.thinking_of(body))
        ctx = RenderContext(
            body=body,
            reply=shape(reply, body, state.behaviour),
            serial=state.counter,
            path_params=dict(request.path_params),
            options={"tool_deltas": state.tool_deltas, "vllm_separator": state.vllm_separator,
                     "triton_echo": state.triton_echo, "triton_stream": state.triton_stream},
        )
        return _answer(state, dialect, ctx, dialect.is_stream(body, request.url.path), fault)

    return endpoint


async def _record(state: EmulatorState, request: Any) -> Any:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    state.requests.append(
        RecordedRequest(request.method, request.url.path, dict(request.headers), body,
                        (request.client.host, request.client.port) if request.client else None)
    )
    state.counter += 1
    if state.open_connections is not None:
        state.max_open_connections = max(state.max_open_connections, state.open_connections())
    return body


def _refusal(state: EmulatorState, dialect: EmulatedDialect, request: Any, body: Any) -> Any:
    """The error a real server would answer this request with (auth, JSON, validation), if any."""
    from starlette.responses import JSONResponse

    if state.iam_tokens is not None and dialect.auth == "x-auth-token":
        authorized = request.headers.get("x-auth-token") in state.iam_tokens
    elif state.auth_location is not None:
        authorized = credential_at(request, state.auth_location) == state.api_key
    else:
        authorized = dialect.authorized(request.headers, state.api_key)
    if not authorized:
        return JSONResponse(dialect.error_body(401, "unauthorized", "invalid or missing credentials"), status_code=401)
    if not isinstance(body, dict):
        return JSONResponse(dialect.error_body(400, "invalid_json", "request body is not a JSON object"), 400)
    if dialect.is_stream(body, request.url.path) and state.reject_stream_options and "stream_options" in body:
        return JSONResponse(
            dialect.error_body(400, "invalid_request", "Extra inputs are not permitted: stream_options"), 400
        )
    fmt = body.get("response_format")
    if state.reject_json_schema and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        # llama.cpp's words and status for a request-validation error
        return JSONResponse(dialect.error_body(
            500, "server_error", "response_format.type: Input should be 'text' or 'json_object'"), 500)
    problem = dialect.validate(body, request.path_params) or check_request(body, state.behaviour)
    if problem is not None:
        status = dialect.validation_status
        return JSONResponse(dialect.error_body(status, problem[0], problem[1]), status_code=status)
    missing = dialect.unknown_model(body, request.path_params, state.served_models)
    if missing is not None:
        return JSONResponse(missing[1], status_code=missing[0])
    return None


def _answer(state: EmulatorState, dialect: EmulatedDialect, ctx: RenderContext, stream: bool,
            fault: Fault | None) -> Any:
    from starlette.responses import JSONResponse, StreamingResponse

    headers = {"X-Request-Id": f"emu-req-{state.counter}"}
    if not stream or (fault is not None and fault.ignore_stream):
        answer = dialect.render_json(ctx)
        if fault is not None and fault.trickle:
            return StreamingResponse(trickle(json.dumps(answer, ensure_ascii=False).encode(), fault.trickle),
                                     media_type="application/json", headers=headers)
        return JSONResponse(answer, headers=headers, media_type=fault.content_type if fault else None)
    events = dialect.render_stream(ctx)
    return StreamingResponse(
        _counted(send_events(events, fault, state.chunk_bytes, state.delay), state), media_type=dialect.stream_media_type,
        headers=headers,
    )


def _models_endpoint(state: EmulatorState) -> Any:
    async def models(request: Any) -> Any:
        from starlette.responses import JSONResponse

        state.requests.append(RecordedRequest(request.method, request.url.path, dict(request.headers), None))
        if state.api_key is not None and state.auth_location is not None:  # vLLM --api-key guards this route too
            if credential_at(request, state.auth_location) != state.api_key:
                return JSONResponse(EMULATED[0].error_body(401, "unauthorized", "invalid or missing credentials"), 401)
        length = {"max_model_len": state.max_model_len} if state.max_model_len is not None else {}
        served = state.served_models or ["emulated"]
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "emulator", **length}
                                                        for m in served]})

    return models


def _iam_endpoint(state: EmulatorState) -> Any:
    async def iam_tokens(request: Any) -> Any:
        from starlette.responses import JSONResponse

        body = json.loads(await request.body() or b"{}")
        try:
            password = body["auth"]["identity"]["password"]["user"]["password"]
        except (KeyError, TypeError):
            return JSONResponse({"error": {"code": 400, "message": "malformed auth body", "title": "Bad Request"}}, 400)
        if password != state.iam_password:
            return JSONResponse({"error": {"code": 401, "message": "The username or password is wrong.",
                                           "title": "Unauthorized"}}, 401)
        state.iam_issued += 1
        token = f"MIIemu-iam-token-{state.iam_issued}"
        if state.iam_tokens is None:
            state.iam_tokens = set()
        state.iam_tokens.add(token)
        expires = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + state.iam_ttl))
        return JSONResponse({"token": {"expires_at": expires, "methods": ["password"]}}, 201,
                            headers={"X-Subject-Token": token})

    return iam_tokens


def _take_fault(state: EmulatorState) -> Fault | None:
    if not state.faults:
        return None
    fault = state.faults[0]
    fault.times -= 1
    if fault.times <= 0:
        state.faults.popleft()
    return fault


async def _counted(body: AsyncIterator[bytes], state: EmulatorState) -> AsyncIterator[bytes]:
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        async for piece in body:
            yield piece
    finally:
        state.in_flight -= 1


class Emulator:
    """The emulator server, started in a background thread (context manager) or via `serve()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        chunk_bytes: int | None = None,
        delay: float = 0.0,
        reject_stream_options: bool = False,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        keep_alive: int = 5,
    ) -> None:
        self.host = host
        self.port = port
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.keep_alive = keep_alive  # seconds an idle client connection is kept open (uvicorn's default 5)
        self._config: dict[str, Any] = {"api_key": api_key, "chunk_bytes": chunk_bytes, "delay": delay,
                        "reject_stream_options": reject_stream_options}
        self.state = EmulatorState(**self._config)
        self.app = _build_app(self.state)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ---- control ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        return self.state.requests

    def script(self, replies: Iterable[Reply]) -> None:
        """Queue the replies the next requests get, in order (then the default model resumes)."""
        self.state.script.extend(replies)

    def fault(self, fault: Fault) -> None:
        """Queue a misbehaviour for the next `fault.times` requests."""
        self.state.faults.append(fault)

    def open_connections(self) -> int:
        """Client connections open to the server right now."""
        return len(self._server.server_state.connections) if self._server is not None else 0

    def reset(self) -> None:
        """Back to how it was constructed: no requests, scripts, faults or issued tokens; settings restored."""
        fresh = EmulatorState(**self._config)
        for f in fields(EmulatorState):
            if f.name not in ("in_flight", "open_connections", "rag"):  # live counters; RAG state resets itself
                setattr(self.state, f.name, getattr(fresh, f.name))
        self.state.rag.reset()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        host = "localhost" if self.ssl_certfile and self.host == "127.0.0.1" else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (`.../v1`)."""
        return self.url + "/v1"

    def endpoint(self, dialect: str = "openai", **path_params: str) -> str:
        """The full chat URL of a dialect on this emulator, as a vendor document would print it."""
        for d in EMULATED:
            if d.name == dialect:
                return self.url + d.example_path(**path_params)
        raise KeyError(f"the emulator does not speak {dialect!r}")

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> Emulator:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1,
            timeout_keep_alive=self.keep_alive,
            ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile,
        )
        self._server = uvicorn.Server(config)
        quiet_drops()
        self.state.open_connections = self.open_connections
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="domestic-llm-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: serve the emulator until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(description="domestic-llm emulator of every supported dialect")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key", default=None, help="require this key/token (checked per dialect's auth scheme)")
    parser.add_argument("--chunk-bytes", type=int, default=None, help="cut stream writes into pieces of N bytes")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between stream writes")
    parser.add_argument("--tool-markup", choices=("hermes", "deepseek", "deepseek-v3.1", "kimi"), default=None,
                        help="no tool parser: tool calls come as this text markup in content")
    parser.add_argument("--inline-think", action="store_true", help="no reasoning parser: <think> inline in content")
    parser.add_argument("--answer-in-reasoning", action="store_true",
                        help="a reasoning parser that files a non-thinking answer as reasoning_content")
    args = parser.parse_args(argv)
    emu = Emulator(host=args.host, port=args.port, api_key=args.api_key, chunk_bytes=args.chunk_bytes, delay=args.delay)
    emu.state.behaviour = ServerBehaviour(tool_markup=args.tool_markup, inline_think=args.inline_think,
                                          answer_in_reasoning=args.answer_in_reasoning)
    print(f"domestic-llm emulator on {emu.url}")
    for d in EMULATED:
        print(f"  {d.name:<14} POST {emu.url}{d.example_path()}")
    quiet_drops()
    uvicorn.run(emu.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
