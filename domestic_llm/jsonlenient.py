"""JSON parsing that recovers the damaged lines real gateways emit now and then.

The fast path is a plain `json.loads` (by way of `raw_decode`). Only when that fails do we try, in order:

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
        # `raw_decode` is `json.loads` without its two whitespace-skipping regex matches: on a
        # stream's small objects that is a third of the parse. Surrounding whitespace or
        # trailing garbage falls through to the full checks below.
        value, end = _decoder.raw_decode(text)
        if end == len(text):
            return value, False
    except ValueError:
        pass
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
    # Two readings of a mismatched closer: a stray one (drop it) or missing ones before it
    # (insert them). Keep whichever parse retains more of the original line.
    best: tuple[int, Any] | None = None
    for drop in (True, False):
        repaired = _rebalance(stripped, drop)
        if repaired is None:
            continue
        text_used, kept = repaired
        try:
            value, _end = _decoder.raw_decode(text_used)
        except ValueError:
            continue
        if isinstance(value, dict) and (best is None or kept > best[0]):
            best = (kept, value)
    if best is not None:
        return best[1], True
    raise ValueError(f"unrecoverable JSON: {text[:120]!r}")


def _rebalance(text: str, drop_stray: bool) -> tuple[str, int] | None:
    """Make brackets balance outside strings; returns the text and how many original characters it kept.

    At a closer that does not match the innermost open bracket, either drop it
    (`drop_stray`) or close the open brackets until it matches. The text is cut
    where the top-level value ends; missing closers are added at the end.
    """
    if not text or text[0] not in "{[":
        return None
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    kept = 0
    for ch in text:
        if in_string:
            out.append(ch)
            kept += 1
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch in "}]":
            if stack and _CLOSER[stack[-1]] != ch:
                if drop_stray:
                    continue
                while stack and _CLOSER[stack[-1]] != ch:
                    out.append(_CLOSER[stack.pop()])
            if not stack:
                break
            stack.pop()
            out.append(ch)
            kept += 1
            if not stack:
                return "".join(out), kept
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        out.append(ch)
        kept += 1
    if in_string:
        return None
    out.extend(_CLOSER[c] for c in reversed(stack))
    return "".join(out), kept
