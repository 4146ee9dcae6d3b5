"""The lazy dialect registry answers exactly as the eager one did.

Built-in dialect modules are imported when a dialect is chosen; `infer_dialect` ranks them
from a copy of each class's path pattern, rank and input field kept in the registry. These
tests check that copy against the classes, and lazy inference against inference over all
the imported classes (the registry's earlier, eager algorithm) for every path and body kind.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlsplit

import pytest

from domestic_llm import dialects
from domestic_llm.dialects import Dialect, get_dialect, infer_dialect, known_dialects, register

_PATHS = [
    "/v1/chat/completions", "/chat/completions/", "/v1/chat/completions/extra", "/v1", "/v1/", "/", "",
    "/lmp-cloud-ias-server/api/llm/chat/completions", "/gw/lmp-cloud-ias-server/api/llm/chat/completions/",
    "/lm/v2/chat/completions", "/v1/proj-1/deployments/dep-2/chat/completions", "/v1/p/deployments/chat/completions",
    "/api/v2/chat/completions", "/api/v2/chat/completions/", "/generate", "/generate/", "/generate_stream",
    "/v1/generate", "/v2/models/qwen/generate", "/v2/models/qwen/generate_stream",
    "/v2/models/qwen/versions/3/generate", "/v2/models/qwen/versions/3/generate_stream/", "/v2/models/generate",
    "/v1/models", "/v1/embeddings", "/rerank", "/generate/x",
]
_BODIES: list[Any] = [None, {}, "not a dict", ["messages"], {"model": "m"}]
_BODIES += [{field: ""} for field in ("messages", "inputs", "prompt", "text_input")]
_BODIES += [{a: "", b: ""} for a, b in itertools.combinations(("messages", "inputs", "prompt", "text_input"), 2)]


def _eager_infer(url: str, body: Any, instances: list[Dialect]) -> str | None:
    """The registry's algorithm before it became lazy, over instances of every built-in dialect."""
    path = urlsplit(url).path
    matches = [d for d in sorted(instances, key=lambda d: d.path_rank)
               if d.path_pattern is not None and d.path_pattern.search(path)]
    if isinstance(body, dict):
        for dialect in matches:
            if dialect.input_field in body:
                return dialect.name
    return matches[0].name if matches else None


def test_the_registry_copy_of_each_builtin_matches_its_class() -> None:
    assert [b.name for b in dialects._BUILTINS] == [
        "openai", "ias", "lm_v2", "pangu_v1", "pangu_v2", "tgi", "vllm_generate", "triton"]
    for builtin in dialects._BUILTINS:
        cls = type(builtin.load())
        assert cls.name == builtin.name
        assert cls.path_pattern is not None
        assert (cls.path_pattern.pattern, cls.path_pattern.flags) == (builtin.path_pattern.pattern,
                                                                      builtin.path_pattern.flags)
        assert (cls.path_rank, cls.input_field) == (builtin.path_rank, builtin.input_field)
        assert get_dialect(builtin.name).__class__ is cls


@pytest.mark.parametrize("path", _PATHS)
def test_lazy_inference_answers_as_eager_inference(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    instances = [b.load() for b in dialects._BUILTINS]
    for url in (f"http://10.0.0.5:1025{path}", f"https://gw.example.cn{path}?api-version=2&ak=x"):
        for body in _BODIES:
            # each call starts from an untouched registry: nothing imported, only placeholders
            monkeypatch.setattr(dialects, "_REGISTRY", {b.name: b for b in dialects._BUILTINS})
            lazy = infer_dialect(url, body)
            assert (lazy.name if lazy else None) == _eager_infer(url, body, instances), (url, body)
            assert lazy is None or isinstance(lazy, Dialect)
            # and once some or all of them are loaded (the registry then mixes instances and placeholders)
            again = infer_dialect(url, body)
            assert again is lazy


def test_a_chosen_dialect_is_loaded_once_and_keeps_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialects, "_REGISTRY", {b.name: b for b in dialects._BUILTINS})
    first = get_dialect("pangu_v1")
    assert get_dialect("pangu_v1") is first
    assert infer_dialect("http://h/v1/p/deployments/d/chat/completions") is first
    assert list(dialects._REGISTRY) == [b.name for b in dialects._BUILTINS]
    assert known_dialects() == sorted(b.name for b in dialects._BUILTINS)


def test_register_replaces_a_builtin_before_or_after_it_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    class MyOpenAI(type(dialects._BUILTINS[0].load())):  # type: ignore[misc]
        pass

    for load_first in (False, True):
        monkeypatch.setattr(dialects, "_REGISTRY", {b.name: b for b in dialects._BUILTINS})
        if load_first:
            get_dialect("openai")
        mine = register(MyOpenAI())
        assert get_dialect("openai") is mine
        assert infer_dialect("http://h/v1/chat/completions") is mine
        assert list(dialects._REGISTRY)[0] == "openai"  # the tie-break order is unchanged
