"""Shared test helpers: fixture loading and feeding byte streams through the client's stream assembler."""

from __future__ import annotations

import json
import pathlib
import textwrap
from dataclasses import dataclass, field
from typing import Any

from domestic_llm.assembler import StreamAssembler
from domestic_llm.dialects import get_dialect
from domestic_llm.dialects.base import ParseOptions
from domestic_llm.types import ChatChunk, Usage

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def fixture_text(name: str) -> str:
    """A fixture as copied from the seeds; seed 002 indents its examples (document layout), so dedent."""
    return textwrap.dedent((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return fixture_text(name).encode("utf-8")


def fixture_json(name: str) -> Any:
    return json.loads(fixture_text(name))


@dataclass
class Collected:
    text: str = ""
    reasoning: str = ""
    chunks: list[ChatChunk] = field(default_factory=list)
    final: ChatChunk | None = None
    complete: bool = False
    skipped: int = 0

    @property
    def usage(self) -> Usage | None:
        return self.final.usage if self.final else None


def run_stream(dialect: Any, data: bytes, splits: list[int] | None = None, options: ParseOptions | None = None) -> Collected:
    """Feed `data` (cut at `splits` offsets) through the client's assembler; an incomplete stream is finished as is."""
    d = get_dialect(dialect)
    assembler = StreamAssembler(d, options or ParseOptions(think_tags=d.think_tags))
    cuts = [0, *sorted(set(splits or [])), len(data)]
    out = Collected()
    for a, b in zip(cuts, cuts[1:]):
        out.chunks.extend(assembler.feed(data[a:b]))
    out.chunks.extend(assembler.end(check=False))
    out.complete = assembler.complete
    out.final = out.chunks[-1]
    out.text = "".join(c.text for c in out.chunks)
    out.reasoning = "".join(c.reasoning for c in out.chunks)
    out.skipped = assembler.parser.skipped
    return out


def aggregate(chunks):
    """Add streamed LangChain chunks together, as LangChain does."""
    total = None
    for c in chunks:
        total = c if total is None else total + c
    return total
