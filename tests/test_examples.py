"""The examples run as a user would run them (subprocess, no DOMESTIC_LLM_* set: the emulator)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def run(name: str, **extra_env: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMESTIC_LLM_")} | extra_env
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quickstart():
    out = run("quickstart.py")
    assert "built-in emulator" in out
    assert "你好！关于“用一句话介绍长江。”：这是 domestic-llm 模拟器的回答。" in out
    assert "[reasoning] 用户问的是“长江里有哪些典型的鱼类？”" in out
    assert "[answer]    你好！关于“长江里有哪些典型的鱼类？”" in out
    assert "== usage: input 22 + output 26 = 48 tokens (reasoning 11)" in out


@pytest.mark.timeout(300)
def test_quickstart_with_the_real_model(llamacpp_server):
    # DOMESTIC_LLM_DEMO=real make demo: the example starts its own llama.cpp server (the fixture
    # only guarantees it is installed); a real answer streams, and missing stream usage is said so
    out = run("quickstart.py", DOMESTIC_LLM_DEMO="real")
    assert "DOMESTIC_LLM_DEMO=real: llama.cpp with SmolLM2-135M" in out
    invoked = out.split("== invoke: prompt | ChatDomestic | StrOutputParser\n")[1].split("\n== stream")[0]
    streamed = out.split("== stream (reasoning and answer shown separately)\n")[1].split("\n== usage")[0]
    assert invoked.strip() and streamed.strip()
    assert "== usage: not reported by this server for streams" in out
    assert "model: smollm2-135m" in out


@pytest.mark.parametrize("name", ["langchain_agent.py"])
def test_langchain_agent(name):
    out = run(name)
    assert "[tool call] get_weather" in out and "[tool call] get_time" in out
    assert "[tool result] get_weather: 晴，25°C" in out
    assert "根据工具结果：" in out and "14:30 (UTC+8)" in out.split("根据工具结果：")[1]


def test_llamaindex_query_engine():
    out = run("llamaindex_query_engine.py")
    assert "answer:   根据资料：长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼、鲤鱼，以及特有的鲥鱼和中华鲟。" in out
    assert "sources:  3 document(s)" in out


def test_llamaindex_agent():
    out = run("llamaindex_agent.py")
    assert "[tool call] get_weather {'city': '北京'}" in out and "[tool call] get_time {'city': '北京'}" in out
    assert "final: 根据工具结果：" in out and "晴，25°C" in out.split("final:")[1]


def _rag_expected(name: str, question: str, k: int = 4, top_n: int = 2) -> list[str]:
    """The order the emulator's scores imply: the k nearest by its vectors, then the best by its rerank scores."""
    import importlib.util
    import math

    from domestic_llm.testing.rag import embedding_of, relevance_score

    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # definitions only: main() is not run
    finally:
        sys.path.remove(str(EXAMPLES))
    q = embedding_of(question)

    def cosine(doc: str) -> float:
        v = embedding_of(doc)
        return sum(a * b for a, b in zip(q, v)) / math.sqrt(sum(x * x for x in v))

    nearest = sorted(module.DOCUMENTS, key=cosine, reverse=True)[:k]
    best = sorted(nearest, key=lambda d: -relevance_score(question, d))[:top_n]
    return [f"  [{i}] {relevance_score(question, d):.4f} {d}" for i, d in enumerate(best, 1)]


@pytest.mark.parametrize("name", ["rag_langchain", "rag_llamaindex"])
def test_rag_examples(name):
    out = run(f"{name}.py")
    question = "长江里有哪些典型的鱼类？"
    ranked = [line for line in out.splitlines() if line.startswith("  [")]
    assert ranked == _rag_expected(name, question)
    assert "answer:   根据资料：长江流域的典型鱼类有鲢鱼、鳙鱼、草鱼、鲤鱼，以及特有的鲥鱼和中华鲟。" in out
    # every request (embed, rerank, chat) was served by the emulator
    # (LlamaIndex also reads the chat model's context window from /v1/models once, lazily)
    models = ", /v1/models x1" if name == "rag_llamaindex" else ""
    assert f"served by the emulator: /v1/embeddings x2{models}, /v1/rerank x1, /v1/chat/completions x1" in out
