"""A LlamaIndex FunctionAgent with two tools, streaming its steps.

    .venv/bin/python examples/llamaindex_agent.py            # against the built-in emulator
"""

from __future__ import annotations

import asyncio

from _target import target
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCall, ToolCallResult

from llamaindex_domestic_llm import DomesticLLM


def get_weather(city: str) -> str:
    """Return today's weather for a city."""
    return {"北京": "晴，25°C", "上海": "小雨，21°C"}.get(city, "多云，23°C")


def get_time(city: str) -> str:
    """Return the local time in a city (all Chinese cities share UTC+8)."""
    return "14:30 (UTC+8)"


async def run(llm: DomesticLLM) -> None:
    agent = FunctionAgent(tools=[get_weather, get_time], llm=llm, system_prompt="你是助手。需要时调用工具。")
    question = "北京 现在几点（用 get_time），天气怎样（用 get_weather）？"
    print(f"user: {question}")
    handler = agent.run(user_msg=question)
    async for event in handler.stream_events():
        if isinstance(event, AgentStream):
            if event.thinking_delta:
                print(f"\033[2m{event.thinking_delta}\033[0m", end="", flush=True)
            print(event.delta, end="", flush=True)
        elif isinstance(event, ToolCallResult):
            print(f"\n[tool result] {event.tool_name}: {event.tool_output.content}")
        elif isinstance(event, ToolCall):
            print(f"\n[tool call] {event.tool_name} {event.tool_kwargs}", end="")
    result = await handler
    print(f"\nfinal: {result}")


def main() -> None:
    with target(demo_model="qwen-72b") as kwargs:
        asyncio.run(run(DomesticLLM(**kwargs)))


if __name__ == "__main__":
    main()
