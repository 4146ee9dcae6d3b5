"""The click application behind `domestic-llm`.

Every failure ends in one line on stderr saying what went wrong and how to fix
it, and a distinct exit code (see `errors.EXIT_CODES_HELP`); `--debug` adds the
traceback and the HTTP log lines (which never contain the key).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import click
import httpx

from .. import __version__
from ..client import ChatClient
from ..config import env
from ..curl import client_kwargs_from_curl
from ..dialects import known_dialects
from .errors import EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_USAGE, CLIError, check_url, explain

_debug = False

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    global _debug
    if value and not _debug:
        _debug = True
        logging.getLogger("domestic_llm").setLevel(logging.DEBUG)
        logging.getLogger("httpx").setLevel(logging.INFO)  # one line per request; httpcore stays quiet
    return value


debug_option = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                            help="Show tracebacks and HTTP log lines (never the key).")


class _LogFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # the core prefixes its messages with "domestic_llm: "; the CLI says who it is once
        message = record.getMessage().removeprefix("domestic_llm: ")
        return f"domestic-llm: {record.levelname.lower()}: {message}"


def _setup_logging() -> None:
    """Warnings of the core (and, with --debug, HTTP lines) on stderr, once per process.

    Levels and propagation are left alone, so an application or test that calls `main()`
    in-process keeps its own logging configuration.
    """
    for name in ("domestic_llm", "httpx"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "_domestic_llm_cli", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_LogFormat())
            handler._domestic_llm_cli = True  # type: ignore[attr-defined]
            logger.addHandler(handler)


def _verify(ca_bundle: str | None, insecure: bool) -> bool | str:
    if insecure and ca_bundle:
        raise CLIError("--insecure and --ca-bundle contradict each other: pass one")
    return False if insecure else (ca_bundle or True)


def transport_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0, show_default=True,
                     metavar="SECONDS", help="Seconds allowed for each network read."),
        click.option("--ca-bundle", type=click.Path(exists=True), metavar="FILE.pem",
                     help="CA bundle for HTTPS endpoints signed by a private CA."),
        click.option("--insecure", is_flag=True, help="Skip TLS certificate verification (trusted networks only)."),
    )):
        f = option(f)
    return f


def endpoint_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say where the endpoint is and how to talk to it (shared by chat-like commands)."""
    f = transport_options(f)  # listed after the endpoint options in --help
    for option in reversed((
        click.option("--endpoint", metavar="URL", help="Full chat URL as the vendor document prints it; the "
                     "dialect is inferred from its path. [env DOMESTIC_LLM_ENDPOINT]"),
        click.option("--base-url", metavar="URL", help="OpenAI-style prefix such as http://host:1025/v1. "
                     "[env DOMESTIC_LLM_BASE_URL]"),
        click.option("--model", "-m", metavar="NAME", help="Model name sent in the body. [env DOMESTIC_LLM_MODEL]"),
        click.option("--dialect", type=click.Choice(known_dialects()),
                     help="Override the dialect inferred from the URL. [env DOMESTIC_LLM_DIALECT]"),
        click.option("--api-key", metavar="KEY", help="Key or token, sent the way the dialect wants. Prefer the "
                     "environment: a flag shows in `ps` and shell history. [env DOMESTIC_LLM_API_KEY]"),
        click.option("--from-curl", metavar="FILE", help="Read URL, key, auth style, model and defaults from "
                     "the curl command in FILE ('-' = stdin); other flags override it."),
        click.option("--max-retries", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Retries on connection errors, timeouts, 429 and 5xx."),
    )):
        f = option(f)
    return f


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None


def build_client(*, endpoint: str | None, base_url: str | None, model: str | None, dialect: str | None,
                 api_key: str | None, from_curl: str | None, max_retries: int, timeout: float,
                 ca_bundle: str | None, insecure: bool) -> ChatClient:
    """A `ChatClient` from the flags, a curl file and `DOMESTIC_LLM_*` (flags win, then the curl, then env)."""
    kwargs: dict[str, Any] = {}
    if from_curl:
        kwargs = client_kwargs_from_curl(_read(from_curl))
    if endpoint or base_url:  # an explicit URL flag replaces the curl's
        kwargs.pop("endpoint", None)
    for name, value in (("endpoint", endpoint), ("base_url", base_url), ("model", model), ("dialect", dialect),
                        ("api_key", api_key)):
        if value is not None:
            kwargs[name] = value
    flag = "--endpoint" if kwargs.get("endpoint") else "--base-url"
    if from_curl and not (endpoint or base_url):
        flag = f"the URL in {from_curl}"
    if not kwargs.get("endpoint") and not kwargs.get("base_url"):
        if env("ENDPOINT"):
            kwargs["endpoint"], flag = env("ENDPOINT"), "DOMESTIC_LLM_ENDPOINT"
        elif env("BASE_URL"):
            kwargs["base_url"], flag = env("BASE_URL"), "DOMESTIC_LLM_BASE_URL"
        else:
            raise CLIError("no endpoint: pass --base-url http://host:port/v1 or --endpoint FULL_CHAT_URL "
                           "(or --from-curl FILE, or set DOMESTIC_LLM_BASE_URL / DOMESTIC_LLM_ENDPOINT)")
    check_url(flag, kwargs.get("endpoint") or kwargs["base_url"])
    if not (kwargs.get("model") or env("MODEL")):
        raise CLIError("no model: pass --model NAME (or set DOMESTIC_LLM_MODEL); "
                       "`domestic-llm probe URL` lists the models the server serves")
    return ChatClient(**kwargs, max_retries=max_retries, timeout=timeout, verify=_verify(ca_bundle, insecure))


EXAMPLES_CHAT = """\b
Examples:
  domestic-llm chat "你好" --base-url http://127.0.0.1:8000/v1 --model deepseek-r1
  domestic-llm chat --endpoint http://10.0.0.5:1025/lm/v2/chat/completions -m qwen-72b
  domestic-llm chat --from-curl vendor-example.sh          # conversation (REPL)
  domestic-llm chat "讲个笑话" --json --no-reasoning | jq .text

""" + EXIT_CODES_HELP


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, "--version", prog_name="domestic-llm")
@debug_option
def cli() -> None:
    """Poke a private LLM endpoint from the terminal: chat with it, probe what it is and does,
    run a local emulator of every dialect, or turn a vendor's curl example into Python.

    \b
    Examples:
      domestic-llm probe http://10.0.0.5:1025/v1/chat/completions
      domestic-llm chat "你好" --base-url http://10.0.0.5:1025/v1 --model qwen-72b
      domestic-llm emulate --port 8000
      domestic-llm curl2py vendor-example.sh
    """


@cli.command(context_settings=CONTEXT, epilog=EXAMPLES_CHAT)
@click.argument("prompt", required=False)
@endpoint_options
@click.option("--system", "-s", metavar="TEXT", help="System prompt for the conversation.")
@click.option("--no-reasoning", is_flag=True, help="Hide the model's reasoning (it still counts in usage).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record per answer instead of streaming text.")
@click.option("--no-stream", is_flag=True, help="Ask for whole answers instead of a stream.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Cap on the answer's tokens.")
@click.option("--temperature", type=click.FloatRange(min=0), help="Sampling temperature.")
@debug_option
def chat(prompt: str | None, system: str | None, no_reasoning: bool, as_json: bool, no_stream: bool,
         max_tokens: int | None, temperature: float | None, **target: Any) -> int:
    """Ask PROMPT and stream the answer, or talk in a conversation when PROMPT is left out.

    The answer streams to stdout; reasoning (dimmed, marked [reasoning]) and the figures
    after each answer (token usage, time to first token, tokens/s) go to stderr. PROMPT '-'
    reads the prompt from stdin. In the conversation, /reset clears it and /exit (or Ctrl-D)
    quits; arrow keys edit and recall lines.
    """
    from . import chat as chat_mod

    client = build_client(**target)
    params = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}
    options = {"stream": not no_stream, "as_json": as_json, "show_reasoning": not no_reasoning}
    try:
        if prompt is not None:
            if prompt == "-":
                prompt = sys.stdin.read()
            if not prompt.strip():
                raise CLIError("the prompt is empty: pass some text (or leave PROMPT out for a conversation)")
            chat_mod.one_shot(client, prompt, system, params, **options)
            return 0
        return chat_mod.repl(client, system, params, on_error=_report, **options)
    finally:
        client.close()


@cli.command(context_settings=CONTEXT, epilog="""\b
Examples:
  domestic-llm probe http://10.0.0.5:1025/v1/chat/completions
  domestic-llm probe http://10.0.0.5:1025/v1 --model deepseek-r1
  DOMESTIC_LLM_API_KEY=... domestic-llm probe https://gw.example.com/lm/v2/chat/completions --json

""" + EXIT_CODES_HELP)
@click.argument("url")
@click.option("--api-key", metavar="KEY", help="Key or token (prefer DOMESTIC_LLM_API_KEY).")
@click.option("--model", "-m", metavar="NAME", help="Model to ask (default: the first one the server lists).")
@click.option("--dialect", type=click.Choice(known_dialects()), help="Skip dialect detection.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@transport_options
@debug_option
def probe(url: str, api_key: str | None, model: str | None, dialect: str | None, as_json: bool, timeout: float,
          ca_bundle: str | None, insecure: bool) -> None:
    """Report what the endpoint at URL is and does, ready to paste into a ticket.

    The dialect (from the URL path, else from one small request), whether the key works,
    the models served and context length (when the server lists them), whether it
    streams, sends usage in streams and accepts stream_options, whether reasoning arrives
    in a field or as inline <think> tags (is a reasoning parser active?), and whether
    tools are accepted. At most five small requests (max_tokens 16), each printed as
    sent, with the key redacted.
    """
    from .probe import Probe

    runner = Probe(url, api_key=api_key, model=model, dialect=dialect, timeout=timeout,
                   verify=_verify(ca_bundle, insecure))
    try:
        report = runner.run()
    except Exception:
        report = runner.report
        if report.lines or report.exchanges:  # what was found before the failure still helps the ticket
            click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if as_json else report.text())
        raise
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if as_json else report.text())


@cli.command(context_settings=CONTEXT, epilog="""\b
Examples:
  domestic-llm emulate                      # http://127.0.0.1:8000
  domestic-llm emulate --port 0             # any free port (printed)
  domestic-llm emulate --api-key sk-test --chunk-bytes 4 --delay 0.02
""")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--api-key", metavar="KEY", help="Require this key (checked the way each dialect sends it).")
@click.option("--chunk-bytes", type=click.IntRange(min=1), help="Cut stream writes into pieces of N bytes.")
@click.option("--delay", type=click.FloatRange(min=0), default=0.0, help="Seconds between stream writes.")
@debug_option
def emulate(port: int, host: str, api_key: str | None, chunk_bytes: int | None, delay: float) -> None:
    """Serve the emulator of every dialect, so apps can be built without the real endpoint.

    Prints each route (one per dialect, plus the helper routes) and serves until Ctrl-C.
    Answers are deterministic; model names containing r1/reason/think/qwq reason first.
    """
    try:
        from ..testing import Emulator
    except ImportError:
        raise CLIError("the emulator needs starlette and uvicorn: pip install 'domestic-llm[emulator]'") from None
    emu = Emulator(host=host, port=port, api_key=api_key, chunk_bytes=chunk_bytes, delay=delay)
    try:
        emu.start()
    except OSError as exc:
        raise CLIError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port "
                       "(0 picks a free one)") from None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        for line in emulator_routes(emu):
            click.echo(line)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


def emulator_routes(emu: Any) -> list[str]:
    """The banner: every route the emulator serves, dialect routes as ready-to-use URLs."""
    examples = {}
    for name in known_dialects():
        try:
            examples[name] = emu.endpoint(name)
        except KeyError:  # a dialect the emulator does not speak
            continue
    lines = [f"domestic-llm emulator on {emu.url} (Ctrl-C stops it)"]
    app = emu.app
    while not hasattr(app, "routes") and hasattr(app, "app"):  # ASGI wrappers keep the wrapped app as .app
        app = app.app
    for route in getattr(app, "routes", []):  # starlette routes: whatever the emulator serves, new ones included
        path = getattr(route, "path", None)
        methods = "/".join(sorted(m for m in (getattr(route, "methods", None) or ()) if m != "HEAD")) or "*"
        regex = getattr(route, "path_regex", None)
        names = [n for n, url in examples.items() if regex is not None and regex.match(httpx.URL(url).path)]
        if names:  # a dialect's route: print a URL that works as is (path parameters filled in)
            lines.append(f"  {','.join(names):<12} {methods:<5} {examples[names[0]]}")
        elif path:
            lines.append(f"  {'':<12} {methods:<5} {emu.url}{path}")
    lines.append(f'try: domestic-llm chat "你好" --base-url {emu.base_url} --model deepseek-r1')
    return lines


@cli.command(context_settings=CONTEXT, epilog="""\b
Examples:
  domestic-llm curl2py vendor-example.sh > client.py
  pbpaste | domestic-llm curl2py -
""")
@click.argument("file", metavar="FILE|-")
@debug_option
def curl2py(file: str) -> None:
    """Turn a vendor's curl example (in FILE, or '-' for stdin) into Python for ChatDomestic and
    DomesticLLM: same URL, dialect, auth style, model and defaults. The key is read from the
    environment (DOMESTIC_LLM_API_KEY), never pasted into the code.
    """
    from .curl2py import curl_to_python

    source, env_vars = curl_to_python(_read(file))
    click.echo(source, nl=False)
    if env_vars:
        click.echo("domestic-llm: the code reads the secret from the environment; before running it set "
                   + ", ".join(env_vars) + " (the value from the curl command)", err=True)


def _report(exc: BaseException) -> int:
    """Print one failed turn (or command) as one line, the traceback too with --debug; its exit code."""
    if _debug:
        traceback.print_exception(exc, file=sys.stderr)
    message, code = explain(exc)
    sys.stderr.write(f"domestic-llm: error: {message}\n")
    sys.stderr.flush()
    return code


def run(argv: list[str] | None = None) -> None:
    _setup_logging()
    try:
        code = cli.main(args=argv, prog_name="domestic-llm", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("\ndomestic-llm: interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code if exc.exit_code else EXIT_USAGE) from None
    except KeyboardInterrupt:
        sys.stderr.write("\ndomestic-llm: interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:  # `domestic-llm ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except Exception as exc:
        raise SystemExit(_report(exc)) from None
    raise SystemExit(code if isinstance(code, int) else 0)
