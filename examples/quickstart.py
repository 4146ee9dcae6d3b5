"""Quickstart: a LangChain chain over a privately deployed model.

    make demo            # against the built-in emulator
    DOMESTIC_LLM_DEMO=real make demo   # a real tiny model: llama.cpp + SmolLM2-135M, no endpoint needed
    DOMESTIC_LLM_ENDPOINT=http://host:1025/v1/chat/completions \
    DOMESTIC_LLM_API_KEY=... DOMESTIC_LLM_MODEL=qwen-72b make demo

Shows: `prompt | ChatDomestic | StrOutputParser` invoked; the same prompt streamed
token by token with the reasoning printed separately; the token usage.
"""

from __future__ import annotations

import sys

from _target import target
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_domestic_llm import ChatDomestic


def main() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "你是一个简洁的助手。"), ("user", "{question}")]
    )
    with target() as kwargs:
        llm = ChatDomestic(**kwargs)
        chain = prompt | llm | StrOutputParser()

        print("== invoke: prompt | ChatDomestic | StrOutputParser")
        print(chain.invoke({"question": "用一句话介绍长江。"}))

        print("\n== stream (reasoning and answer shown separately)")
        full = None
        in_reasoning = False
        for chunk in (prompt | llm).stream({"question": "长江里有哪些典型的鱼类？"}):
            full = chunk if full is None else full + chunk
            reasoning = chunk.additional_kwargs.get("reasoning_content")
            if reasoning:
                if not in_reasoning:
                    print("[reasoning] ", end="")
                    in_reasoning = True
                print(reasoning, end="", flush=True)
            if chunk.content:
                if in_reasoning:
                    print("\n[answer]    ", end="")
                    in_reasoning = False
                print(chunk.content, end="", flush=True)
        print()
        assert full is not None
        usage = full.usage_metadata
        if usage is None:  # some servers (llama.cpp) send no usage in streams, even when asked
            print("\n== usage: not reported by this server for streams")
        else:
            print(
                f"\n== usage: input {usage.get('input_tokens')} + output {usage.get('output_tokens')} "
                f"= {usage.get('total_tokens')} tokens"
                + (f" (reasoning {r})" if (r := usage.get("output_token_details", {}).get("reasoning")) else "")
            )
        print(f"== finish_reason: {full.response_metadata.get('finish_reason')}, "
              f"model: {full.response_metadata.get('model_name')}")


if __name__ == "__main__":
    sys.exit(main())
