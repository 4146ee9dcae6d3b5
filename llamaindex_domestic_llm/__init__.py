"""LlamaIndex integration of domestic-llm (`DomesticLLM`) — arriving with its own issue."""

__all__: list[str] = []
