"""Import laziness, checked by module sets in fresh interpreters (never by timing).

`import domestic_llm` must load neither framework; `import langchain_domestic_llm` /
`import llamaindex_domestic_llm` must add only this package's light modules to what
their framework's own package import already loaded (no httpx, no chat-model
machinery), while `ChatDomestic` / `DomesticLLM` still resolve on first use.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, sys
{before}
loaded = set(sys.modules)
{statement}
added = sorted(set(sys.modules) - loaded)
{after}
print(json.dumps({{"added": added, "all": sorted(sys.modules)}}))
"""


def probe(statement: str, before: str = "", after: str = "") -> tuple[list[str], list[str]]:
    """Modules that `statement` added after `before` ran, and every module loaded at the end."""
    code = _PROBE.format(before=before, statement=statement, after=after)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    return result["added"], result["all"]


def _frameworks(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in ("langchain_core", "langchain", "llama_index", "langsmith")]


def test_core_imports_no_framework() -> None:
    _, loaded = probe(
        "import domestic_llm",
        after="from domestic_llm import ChatClient, known_dialects, ChatChunk, DomesticLLMError, EmbeddingClient\n"
              "from domestic_llm import RerankClient, RerankResult\n"
              "assert ChatClient.__module__ == 'domestic_llm.client' and 'openai' in known_dialects()\n"
              "c = ChatClient(model='m', base_url='http://127.0.0.1:9/v1')",
    )
    assert _frameworks(loaded) == []


def test_langchain_package_import_adds_only_light_modules() -> None:
    added, loaded = probe(
        "import langchain_domestic_llm",
        before="import langchain_core.language_models",
        after="from langchain_domestic_llm import ChatDomestic, DomesticEmbeddings, DomesticReranker, RateLimitError\n"
              "import langchain_domestic_llm.chat_models as cm\n"
              "assert ChatDomestic is cm.ChatDomestic and langchain_domestic_llm.ChatDomestic is ChatDomestic\n"
              "from langchain_domestic_llm import *\n"
              "assert ChatDomestic(model='m', base_url='http://127.0.0.1:9/v1').client.dialect.name == 'openai'",
    )
    assert set(added) <= {"domestic_llm", "domestic_llm.errors", "domestic_llm.types", "langchain_domestic_llm"}, added
    assert not any(m.startswith("llama_index") for m in loaded)


def test_llamaindex_package_import_adds_only_light_modules() -> None:
    added, loaded = probe(
        "import llamaindex_domestic_llm",
        before="import llama_index.core.llms",
        after="from llamaindex_domestic_llm import DomesticLLM, DomesticEmbedding, DomesticRerank, RateLimitError\n"
              "import llamaindex_domestic_llm.base as base\n"
              "assert DomesticLLM is base.DomesticLLM\n"
              "from llamaindex_domestic_llm import *\n"
              "assert DomesticLLM(model='m', base_url='http://127.0.0.1:9/v1').metadata.is_chat_model",
    )
    assert set(added) <= {"domestic_llm", "domestic_llm.errors", "domestic_llm.types", "llamaindex_domestic_llm"}, added
    assert not any(m.startswith(("langchain_core", "langsmith")) for m in loaded)


def test_unknown_names_still_raise_attribute_error() -> None:
    import domestic_llm
    import langchain_domestic_llm
    import llamaindex_domestic_llm

    for module in (domestic_llm, langchain_domestic_llm, llamaindex_domestic_llm):
        try:
            module.NoSuchThing  # type: ignore[attr-defined]
        except AttributeError as exc:
            assert "NoSuchThing" in str(exc)
        else:
            raise AssertionError(f"{module.__name__}.NoSuchThing did not raise")
