"""JSON parsing that recovers the damaged lines real gateways emit now and then.

The fast path is a plain `json.loads`. Only when that fails do we try, in order:

1. a valid object followed by trailing garbage (`{...}]} 台后`): keep the object;
2. mismatched or missing closing brackets (`{"delta":{...}],"x":1}]`): insert the
   closers the structure needs, outside strings only, then parse again.

Anything else is unrecoverable and raises `ValueError`; the caller skips that line.
"""

from __future__ import annotations

import json
from typing import Any

_decoder = json.JSONDecoder()
_CLOSER = {"{": "}", "[": "]"}


def loads_lenient(text: str) -> tuple[Any, bool]:
    """Parse `text`; returns `(value, recovered)` where `recovered` says repair was needed.

    Raises `ValueError` when nothing sensible can be recovered.
    """
    try:
        return json.loads(text), False
    except ValueError:
        pass
    stripped = text.strip()
    try:
        value, _end = _decoder.raw_decode(stripped)
        if isinstance(value, (dict, list)):
            return value, True
    except ValueError:
        pass
    repaired = _rebalance(stripped)
    if repaired is not None:
        try:
            value, _end = _decoder.raw_decode(repaired)
            if isinstance(value, dict):
                return value, True
        except ValueError:
            pass
    raise ValueError(f"unrecoverable JSON: {text[:120]!r}")


def _rebalance(text: str) -> str | None:
    """Insert missing closers so that brackets balance; cut at the end of the top value."""
    if not text or text[0] not in "{[":
        return None
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]":
            # close whatever is open until the closer matches
            while stack and _CLOSER[stack[-1]] != ch:
                out.append(_CLOSER[stack.pop()])
            if not stack:
                break
            stack.pop()
            out.append(ch)
            if not stack:
                return "".join(out)
            continue
        out.append(ch)
    if in_string:
        return None
    out.extend(_CLOSER[c] for c in reversed(stack))
    return "".join(out)
