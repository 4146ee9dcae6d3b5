"""The examples run as a user would run them (subprocess, no DOMESTIC_LLM_* set: the emulator)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def run(name: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMESTIC_LLM_")}
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
