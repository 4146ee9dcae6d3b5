"""A LangChain agent with two tools over a privately deployed model.

    .venv/bin/python examples/langchain_agent.py              # against the built-in emulator
    DOMESTIC_LLM_ENDPOINT=... DOMESTIC_LLM_API_KEY=... DOMESTIC_LLM_MODEL=... .venv/bin/python examples/langchain_agent.py

`langchain.agents.create_agent` drives ChatDomestic through tool calls; the steps
(tool calls, tool results, the streamed final answer) are printed as they happen.
"""

from __future__ import annotations

from _target import target
from langchain.agents import create_agent
from langchain_core.tools import tool

from langchain_domestic_llm import ChatDomestic


@tool
def get_weather(city: str) -> str:
    """Return today's weather for a city."""
    return {"北京": "晴，25°C", "上海": "小雨，21°C"}.get(city, "多云，23°C")


@tool
def get_time(city: str) -> str:
    """Return the local time in a city (all Chinese cities share UTC+8)."""
    return "14:30 (UTC+8)"


def main() -> None:
    with target(demo_model="qwen-72b") as kwargs:
        agent = create_agent(
            ChatDomestic(**kwargs),
            [get_weather, get_time],
            system_prompt="你是助手。需要时调用工具，然后用一句话回答。",
        )
        question = "北京 现在几点（用 get_time），天气怎样（用 get_weather）？"
        print(f"user: {question}")
        for message, _meta in agent.stream({"messages": [("user", question)]}, stream_mode="messages"):
            if message.type == "AIMessageChunk":
                for call in message.tool_call_chunks:
                    if call.get("name"):
                        print(f"\n[tool call] {call['name']}", end=" ")
                    if call.get("args"):
                        print(call["args"], end="", flush=True)
                if message.content:
                    print(message.content, end="", flush=True)
                if message.chunk_position == "last" and message.usage_metadata:
                    u = message.usage_metadata
                    print(f"\n[usage] {u['input_tokens']} in / {u['output_tokens']} out")
            elif message.type == "tool":
                print(f"[tool result] {message.name}: {message.content}")
        print()


if __name__ == "__main__":
    main()
