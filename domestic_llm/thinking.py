"""Moving inline `<think>…</think>` reasoning out of the answer text.

DeepSeek-R1-style models served without a reasoning parser write their reasoning
into `content`, wrapped in `<think>` tags. `ThinkSplitter` separates it while the
stream flows, holding back only what could still be the start of a tag (at most
seven characters) and nothing else.

Modes: `split` moves reasoning to the reasoning channel, `drop` discards it,
`keep` leaves the text untouched (no splitter is created at all).

A missing opening tag is the case where the server's chat template already
opened `<think>` in the prompt. With `starts_open=True` text is reasoning from the
first byte (an explicit `<think>` there is still accepted: templates differ). Without it, a non-streamed answer containing an orphan `</think>` is
still split correctly (`split_think_text`), but a stream cannot take back text it
already delivered as answer: the orphan tag is removed, the rest continues as
answer, and `orphan_close` is set so the caller can warn.
"""

from __future__ import annotations

from typing import Literal, get_args

ThinkMode = Literal["split", "drop", "keep"]
THINK_MODES: tuple[ThinkMode, ...] = get_args(ThinkMode)

OPEN = "<think>"
CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class ThinkSplitter:
    """Stateful splitter for one streamed choice. `feed` returns `(reasoning, answer)`."""

    __slots__ = ("drop", "state", "pending", "saw_open", "orphan_close")

    def __init__(self, mode: ThinkMode = "split", starts_open: bool = False) -> None:
        self.drop = mode == "drop"
        # start: undecided; open_start: undecided but reasoning unless an explicit <think> comes
        # (templates differ on whether they open it); reasoning / answer; *_lead: skipping whitespace after a tag
        self.state = "open_start" if starts_open else "start"
        self.pending = ""
        self.saw_open = starts_open
        self.orphan_close = False

    def feed(self, text: str) -> tuple[str, str]:
        if not self.pending and self.state == "answer" and "<" not in text:
            return "", text  # fast path: plain answer text
        buf = self.pending + text
        self.pending = ""
        reasoning: list[str] = []
        answer: list[str] = []
        while buf:
            state = self.state
            if state == "start" or state == "open_start":
                stripped = buf.lstrip()
                if stripped.startswith(OPEN):
                    self.state, self.saw_open = "reasoning_lead", True
                    buf = stripped[len(OPEN):]
                elif OPEN.startswith(stripped):  # only whitespace or a tag prefix so far
                    self.pending, buf = buf, ""
                elif state == "open_start":
                    self.state = "reasoning"
                    buf = stripped
                else:
                    self.state = "answer"
            elif state == "reasoning_lead" or state == "answer_lead":
                stripped = buf.lstrip()
                if not stripped:
                    buf = ""
                else:
                    self.state = "reasoning" if state == "reasoning_lead" else "answer"
                    buf = stripped
            elif state == "reasoning":
                # whitespace before </think> is layout, like the whitespace after <think>: trailing
                # whitespace is held back until text follows it (or the tag makes it disappear)
                pos = buf.find(CLOSE)
                if pos >= 0:
                    reasoning.append(buf[:pos].rstrip())
                    buf = buf[pos + len(CLOSE):]
                    self.state = "answer_lead"
                else:
                    keep = _partial_suffix(buf, CLOSE)
                    body = buf[: len(buf) - keep]
                    text = body.rstrip()
                    reasoning.append(text)
                    self.pending = body[len(text):] + buf[len(buf) - keep:]
                    buf = ""
            else:  # answer
                if self.saw_open or self.orphan_close:
                    answer.append(buf)  # tags are literal text once the answer began
                    buf = ""
                    continue
                pos = buf.find(CLOSE)
                if pos >= 0:
                    answer.append(buf[:pos])
                    buf = buf[pos + len(CLOSE):].lstrip()
                    self.orphan_close = True
                else:
                    keep = _partial_suffix(buf, CLOSE)
                    answer.append(buf[: len(buf) - keep])
                    self.pending = buf[len(buf) - keep:]
                    buf = ""
        r = "" if self.drop else "".join(reasoning)
        return r, "".join(answer)

    def flush(self) -> tuple[str, str]:
        """End of the stream: release whatever was held back."""
        pending, self.pending = self.pending, ""
        if not pending:
            return "", ""
        if self.state in ("start", "open_start") and pending.strip() == "":
            return "", ""
        if self.state in ("reasoning", "reasoning_lead", "open_start"):
            return ("" if self.drop else pending.rstrip()), ""
        if self.state == "start" and pending.strip() == "":
            return "", ""
        return "", pending


def split_think_text(text: str, mode: ThinkMode = "split", starts_open: bool = False) -> tuple[str, str]:
    """Split a complete answer; an orphan `</think>` makes everything before it reasoning."""
    if mode == "keep":
        return "", text
    if not starts_open and OPEN not in text and CLOSE in text:
        starts_open = True
    splitter = ThinkSplitter(mode, starts_open)
    r1, a1 = splitter.feed(text)
    r2, a2 = splitter.flush()
    return r1 + r2, a1 + a2
