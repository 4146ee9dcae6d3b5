"""Keeping stop sequences and leaked chat-template markers out of the answer.

A model served without (or behind) a chat template can write the template's
markers into its answer: `<|im_end|>`, `<|im_start|>`, `<reserved_107>`, or — when
the server skips special tokens while decoding — a bare role line such as the
`\\nuser\\n` at the end of seed 003's answer. `TextGuard` removes them while the
stream flows:

* the answer ends at the first stop sequence (the stop itself is not shown;
  everything after it is discarded);
* markers that are not stops are deleted wherever they appear;
* with `trim_role_lines`, a trailing line consisting only of a role word
  (`user`, `assistant`, `system`, `human`) is removed at the end of the answer;
  a line that merely contains such a word mid-answer is untouched.

Only what could still become a stop, a marker or a trailing role line is held
back — at most as many characters as the longest of them — so the guard adds no
buffering beyond that. Feeding the answer in any pieces gives the same text as
feeding it whole.
"""

from __future__ import annotations

from collections.abc import Iterable

ROLE_WORDS = ("user", "assistant", "system", "human")
_ROLE_TAIL_MAX = 1 + 2 + max(len(w) for w in ROLE_WORDS) + 2 + 1  # "\n" + blanks + word + blanks + "\n"


def _role_tail(tail: str, complete: bool) -> bool:
    """Whether `tail` (starting with a newline) is a role line, or, unless `complete`, could become one."""
    if len(tail) > _ROLE_TAIL_MAX:
        return False
    core = tail[1:].strip(" \t")
    closed = core.endswith("\n")
    if closed:
        core = core[:-1].rstrip(" \t")
    if "\n" in core:
        return False
    word = core.lower()
    if complete or closed:
        return word in ROLE_WORDS
    return any(w.startswith(word) for w in ROLE_WORDS)


class TextGuard:
    """Stateful filter for one streamed choice: `feed` text in, safe text out; `flush` at the end."""

    __slots__ = ("stops", "markers", "roles", "patterns", "pending", "stopped")

    def __init__(self, stops: Iterable[str] = (), markers: Iterable[str] = (), trim_role_lines: bool = False) -> None:
        self.stops = tuple(dict.fromkeys(s for s in stops if s))
        self.markers = tuple(m for m in dict.fromkeys(markers) if m and m not in self.stops)
        self.patterns = self.stops + self.markers
        self.roles = trim_role_lines
        self.pending = ""
        self.stopped = False  # a stop sequence was met: the answer is over

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.pending and not self.patterns and "\n" not in text:
            return text  # fast path of the OpenAI route: nothing to hold
        buf = self.pending + text
        self.pending = ""
        cut = -1
        for stop in self.stops:
            pos = buf.find(stop)
            if pos >= 0 and (cut < 0 or pos < cut):
                cut = pos
        if cut >= 0:
            self.stopped = True
            return self._end(self._unmark(buf[:cut]))
        buf = self._unmark(buf)
        keep = 0
        for pattern in self.patterns:  # a suffix that may still grow into a stop or marker
            for k in range(min(len(pattern) - 1, len(buf)), keep, -1):
                if buf.endswith(pattern[:k]):
                    keep = k
                    break
        if self.roles:
            last = buf.rfind("\n")
            for pos in (buf.rfind("\n", 0, last) if last > 0 else -1, last):
                if pos >= 0 and len(buf) - pos > keep and _role_tail(buf[pos:], complete=False):
                    keep = len(buf) - pos
                    break
        if keep:
            self.pending = buf[len(buf) - keep:]
            return buf[: len(buf) - keep]
        return buf

    def flush(self) -> str:
        """End of the answer: release held text, minus a trailing role line."""
        buf, self.pending = self.pending, ""
        if self.stopped:
            return ""
        return self._end(buf)

    def _unmark(self, text: str) -> str:
        for marker in self.markers:
            if marker in text:
                text = text.replace(marker, "")
        return text

    def _end(self, text: str) -> str:
        if self.roles and "\n" in text:
            last = text.rfind("\n")
            for pos in (text.rfind("\n", 0, last) if last > 0 else -1, last):
                if pos >= 0 and _role_tail(text[pos:], complete=True):
                    return text[:pos]
        return text


def guard_text(text: str, stops: Iterable[str] = (), markers: Iterable[str] = (), trim_role_lines: bool = False) -> str:
    """A complete answer through a `TextGuard` (same result as streaming it)."""
    guard = TextGuard(stops, markers, trim_role_lines)
    return guard.feed(text) + guard.flush()
