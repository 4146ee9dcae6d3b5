"""The llama.cpp test-server helper itself: build flags, cache, why it cannot build, clean stops."""

from __future__ import annotations

import signal
import sys

import pytest

from domestic_llm.testing import llamacpp, llamacpp_build


def test_build_flags_are_portable_and_the_cache_is_keyed_by_them(monkeypatch, tmp_path):
    args = llamacpp_build.cmake_args()
    assert "-DGGML_NATIVE=OFF" in args and "NATIVE=ON" not in args and "-DLLAVA_BUILD=OFF" in args
    monkeypatch.setenv("DOMESTIC_LLM_LLAMACPP_CACHE", str(tmp_path))
    first = llamacpp_build.cache_dir()
    assert first.parent == tmp_path and first.name.startswith(f"llama_cpp_python-{llamacpp.LLAMA_CPP_VERSION}-")
    # an x86-64 CPU with AVX2 and one without it get different builds
    monkeypatch.setattr(llamacpp_build.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(llamacpp_build, "_cpu_flags", lambda: {"avx", "avx2"})
    assert "-DGGML_AVX2=ON" in llamacpp_build.cmake_args()
    with_avx2 = llamacpp_build.cache_dir()
    monkeypatch.setattr(llamacpp_build, "_cpu_flags", lambda: {"avx"})
    assert "-DGGML_AVX2=ON" not in llamacpp_build.cmake_args()
    assert llamacpp_build.cache_dir() != with_avx2


def test_cached_wheel_matches_this_interpreter_only(tmp_path):
    v = llamacpp.LLAMA_CPP_VERSION
    (tmp_path / f"llama_cpp_python-{v}-cp27-cp27-linux_x86_64.whl").write_bytes(b"")
    assert llamacpp_build.cached_wheel(tmp_path) is None
    wheel = tmp_path / f"llama_cpp_python-{v}-py3-none-linux_x86_64.whl"
    wheel.write_bytes(b"")
    assert llamacpp_build.cached_wheel(tmp_path) == wheel


def test_no_compiler_is_unavailable_with_the_reason_and_install_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DOMESTIC_LLM_LLAMACPP_CACHE", str(tmp_path))  # an empty cache: a build would be needed
    # install() and build_wheel() look these up in llamacpp_build, where they are defined
    monkeypatch.setattr(llamacpp_build, "server_installed", lambda: False)
    monkeypatch.setattr(llamacpp_build.shutil, "which", lambda name: None)
    with pytest.raises(llamacpp.Unavailable, match="no C compiler"):
        llamacpp_build.build_wheel()
    monkeypatch.delenv(llamacpp.REQUIRE_ENV, raising=False)
    assert llamacpp.main(["install"]) == 0  # a developer machine: the tests will skip, saying why
    assert "real-server tests will be skipped: no C compiler" in capsys.readouterr().out
    assert llamacpp.main(["install", "--require"]) == 1  # CI: that is a failure
    monkeypatch.setenv(llamacpp.REQUIRE_ENV, "1")
    assert llamacpp.main(["install"]) == 1


def test_installing_outside_a_virtualenv_is_refused(monkeypatch):
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    monkeypatch.delenv("DOMESTIC_LLM_LLAMACPP_ANY_PYTHON", raising=False)
    with pytest.raises(llamacpp.Unavailable, match="not a virtualenv"):
        llamacpp_build._check_virtualenv()


@pytest.mark.timeout(300)
def test_command_line_prints_ready_serves_and_stops_on_sigint(llamacpp_server):
    import httpx

    # a second server beside the session's: the command line as a user runs it, stopped with Ctrl-C
    server = llamacpp.ServerCommand(ready_timeout=240)
    server.start()
    assert [ln for ln in server.output if ln.startswith("READY ")] == [f"READY {server.base_url}"]
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
    models = httpx.get(f"{server.base_url}/models", timeout=30).json()
    assert [m["id"] for m in models["data"]] == [llamacpp.MODEL_ALIAS]
    process = server.process
    assert process is not None
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}/models", timeout=5)
