"""What `domestic-llm probe` found and sent: the wire record (key redacted) and the ticket text."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import redact_url
from .errors import one_line

SECRET_HEADER_HINTS = ("auth", "token", "key", "secret", "sign", "password", "cookie")
SHOWN_HEADERS_SKIP = {"host", "accept-encoding", "connection", "user-agent", "content-length"}


@dataclass
class Exchange:
    """One HTTP request the probe sent, as it went on the wire (secret redacted), and its outcome."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    status: int | None = None
    content_type: str | None = None
    elapsed_ms: float | None = None
    started: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "headers": self.headers, "body": self.body,
                "status": self.status, "content_type": self.content_type,
                "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1)}


class Recorder:
    """httpx event hooks that keep a redacted copy of every request and the status it got."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.exchanges: list[Exchange] = []

    def redact(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text

    def on_request(self, request: httpx.Request) -> None:
        headers = {}
        for name, value in request.headers.items():
            low = name.lower()
            if low in SHOWN_HEADERS_SKIP:
                continue
            if any(h in low for h in SECRET_HEADER_HINTS):
                scheme = value.split(" ", 1)[0] if " " in value else ""
                value = f"{scheme} ***" if scheme.lower() in ("bearer", "basic", "token") else "***"
            headers[name] = self.redact(value)
        body: Any = None
        content = request.content if request.method != "GET" else b""
        if content:
            text = self.redact(content.decode("utf-8", "replace"))
            try:
                body = json.loads(text)
            except ValueError:
                body = text[:500]
        self.exchanges.append(Exchange(request.method, self.redact(redact_url(str(request.url))), headers, body,
                                       started=time.perf_counter()))

    def on_response(self, response: httpx.Response) -> None:
        for ex in reversed(self.exchanges):
            if ex.status is None:
                ex.status = response.status_code
                ex.content_type = response.headers.get("content-type")
                ex.elapsed_ms = (time.perf_counter() - ex.started) * 1000
                return

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.on_request], "response": [self.on_response]}


@dataclass
class Report:
    """The probe's findings; `lines` is the ticket text, the fields its machine-readable form."""

    endpoint: str
    dialect: str | None = None
    dialect_source: str | None = None
    chat_url: str | None = None
    model: str | None = None
    auth: str | None = None
    auth_ok: bool | None = None
    models: list[str] | None = None
    context_length: int | None = None
    streams: bool | None = None
    stream_usage: bool | None = None
    stream_options_accepted: bool | None = None
    reasoning: str | None = None  # "field" | "inline_think" | "none"
    tools_accepted: bool | None = None
    tool_called: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def add(self, label: str, text: str) -> None:
        self.lines.append((label, one_line(text, 300)))

    def replace(self, label: str, text: str) -> None:
        """Correct a finding already made (e.g. the dialect, once the server has answered)."""
        self.lines = [(lb, one_line(text, 300) if lb == label else t) for lb, t in self.lines]

    def as_dict(self) -> dict[str, Any]:
        keys = ("endpoint", "dialect", "dialect_source", "chat_url", "model", "auth", "auth_ok", "models",
                "context_length", "streams", "stream_usage", "stream_options_accepted", "reasoning",
                "tools_accepted", "tool_called", "usage", "error")
        out = {k: getattr(self, k) for k in keys}
        out["findings"] = {label: text for label, text in self.lines}
        out["requests"] = [ex.as_dict() for ex in self.exchanges]
        return out

    def text(self) -> str:
        width = max((len(label) for label, _ in self.lines), default=10) + 2
        from .. import __version__

        out = [f"domestic-llm {__version__} probe report ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"]
        out += [f"{label + ':':<{width}}{text}" for label, text in self.lines]
        out.append("")
        out.append(f"requests sent ({len(self.exchanges)}; key redacted):")
        for i, ex in enumerate(self.exchanges, 1):
            outcome = f"HTTP {ex.status}" if ex.status is not None else "no answer"
            if ex.elapsed_ms is not None:
                outcome += f" in {ex.elapsed_ms:.0f} ms"
            if ex.content_type:
                outcome += f" ({ex.content_type.split(';')[0]})"
            out.append(f"  {i}. {ex.method} {ex.url} -> {outcome}")
            if ex.headers:
                out.append("     headers: " + "; ".join(f"{k}: {v}" for k, v in ex.headers.items()))
            if ex.body is not None:
                out.append("     body: " + json.dumps(ex.body, ensure_ascii=False))
        return "\n".join(out)
