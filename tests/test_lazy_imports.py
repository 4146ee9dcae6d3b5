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


#: modules importing an adapter's class must not load: every dialect but the one chosen (prompt dialects
#: bring the chat templates and Jinja), tool-call markup parsing, token counting, curl parsing, the
#: embedding / rerank side, the emulator and the CLI; each is imported by the first call that needs it.
#: (click is not listed: httpx imports its own command line, and so click, whenever click, rich and
#: pygments are installed)
_NOT_AT_CLASS_IMPORT = (
    "domestic_llm.dialects.openai", "domestic_llm.dialects.ias", "domestic_llm.dialects.lm_v2",
    "domestic_llm.dialects.pangu_v1", "domestic_llm.dialects.pangu_v2", "domestic_llm.dialects.prompt",
    "domestic_llm.dialects.tgi", "domestic_llm.dialects.triton", "domestic_llm.dialects.vllm_generate",
    "domestic_llm.templates", "domestic_llm.toolmarkup", "domestic_llm.tokens", "domestic_llm.curl",
    "domestic_llm.embeddings", "domestic_llm.rerank", "domestic_llm.retrieval_dialects", "domestic_llm.deployment",
    "domestic_llm.service", "domestic_llm.testing", "domestic_llm.cli", "jinja2", "difflib",
    "starlette", "uvicorn", "tokenizers", "langchain_core.tools", "langchain_domestic_llm.embeddings",
    "langchain_domestic_llm.rerank", "llamaindex_domestic_llm.embeddings", "llamaindex_domestic_llm.postprocessor",
)


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _not_loaded(added: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return [m for m in added if _within(m, _NOT_AT_CLASS_IMPORT) and not _within(m, allowed)]


def test_importing_chat_domestic_loads_nothing_only_some_calls_need() -> None:
    added, _ = probe(
        "from langchain_domestic_llm import ChatDomestic",
        before="from langchain_core.language_models import BaseChatModel",
        after="import langchain_domestic_llm.chat_models as cm\n"
              "assert cm.ChatDomestic.__pydantic_complete__  # its validator is built at import, not deferred",
    )
    assert _not_loaded(added) == []
    # the one dialect chosen is loaded when the model is made: the OpenAI one, not the others
    added, _ = probe(
        "ChatDomestic(model='m', base_url='http://127.0.0.1:9/v1')",
        before="from langchain_domestic_llm import ChatDomestic",
    )
    assert _not_loaded(added, allowed=("domestic_llm.dialects.openai",)) == []
    assert "domestic_llm.dialects.openai" in added


def test_importing_domestic_llm_class_loads_nothing_only_some_calls_need() -> None:
    # llama_index.core itself imports jinja2 and difflib: only whether this package adds them matters
    added, _ = probe(
        "from llamaindex_domestic_llm import DomesticLLM",
        before="from llama_index.core.llms.function_calling import FunctionCallingLLM",
        after="assert DomesticLLM.__pydantic_complete__",
    )
    assert _not_loaded(added) == []
    added, _ = probe(
        "DomesticLLM(model='m', endpoint='http://127.0.0.1:9/generate', chat_template='chatml')",
        before="from llamaindex_domestic_llm import DomesticLLM",
    )
    prompt_side = ("domestic_llm.dialects.tgi", "domestic_llm.dialects.prompt", "domestic_llm.templates", "jinja2")
    assert _not_loaded(added, allowed=prompt_side) == []
    assert "domestic_llm.dialects.tgi" in added


def test_the_core_client_loads_only_its_dialect() -> None:
    added, _ = probe(
        "from domestic_llm import ChatClient\n"
        "ChatClient(model='m', endpoint='http://127.0.0.1:9/v1/proj/deployments/dep/chat/completions')",
    )
    pangu = ("domestic_llm.dialects.pangu_v1", "domestic_llm.dialects.pangu_v2", "domestic_llm.dialects.openai")
    assert _not_loaded(added, allowed=pangu) == []
    assert "domestic_llm.dialects.pangu_v1" in added
