"""Incremental, tolerant server-sent-events decoder.

Fed raw bytes in whatever pieces the network delivers, it yields the same events
whatever the split. Departures from the WHATWG algorithm, each for a gateway in
the seeds:

* An event is dispatched when it carries data *or* a named `event:` field. The
  Pangu V1 trailer is a lone `event:{"usage":...}` line with no data; the
  standard would drop it silently, we hand it to the dialect.
* Only CR, LF and CRLF end a line (not U+2028 or other Unicode separators that
  `str.splitlines` honours), so JSON strings containing them stay intact.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. `data` is `None` for an event that had no `data:` line."""

    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turns a byte stream into `SSEEvent`s. Call `feed` per network read, `flush` at EOF."""

    __slots__ = ("_utf8", "_buf", "_cr_pending", "_event", "_data", "_id", "_retry")

    def __init__(self) -> None:
        # Incremental decoding keeps a multi-byte character split across reads whole.
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._cr_pending = False  # last piece ended in CR: a following LF belongs to it
        self._reset()

    def _reset(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, raw: bytes) -> list[SSEEvent]:
        """Decode one piece of the stream; returns the events it completed."""
        text = self._utf8.decode(raw)
        if not text:
            return []
        if self._cr_pending:
            self._cr_pending = False
            if text[0] == "\n":
                text = text[1:]
        elif (
            # The common case, for speed: a read holding exactly one whole `data:` event and
            # nothing else (servers that send each event as its own HTTP chunk), with no
            # partial line or event pending. Gives what the general path below gives.
            text[-2:] == "\n\n"
            and text[:5] == "data:"
            and not self._buf
            and text.find("\n") == len(text) - 2
            and "\r" not in text
            and not self._data
            and self._event is None
            and self._id is None
            and self._retry is None
        ):
            value = text[5:-2]
            return [SSEEvent(None, value[1:] if value[:1] == " " else value)]
        buf = self._buf + text
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while True:
            # find the next CR or LF
            lf = buf.find("\n", start)
            cr = buf.find("\r", start, lf if lf != -1 else n)
            if cr != -1:
                end = cr
                if cr + 1 < n:
                    nxt = cr + 2 if buf[cr + 1] == "\n" else cr + 1
                else:
                    # CR is the last character: the LF of a CRLF may come in the next read
                    nxt = n
                    self._cr_pending = True
            elif lf != -1:
                end, nxt = lf, lf + 1
            else:
                break
            self._line(buf[start:end], events)
            start = nxt
        self._buf = buf[start:]
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: finish a last line and event that had no terminating blank line."""
        events: list[SSEEvent] = []
        tail = self._buf + self._utf8.decode(b"", final=True)
        self._buf = ""
        if tail:
            self._line(tail, events)
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event is not None:
                events.append(
                    SSEEvent(
                        self._event,
                        "\n".join(self._data) if self._data else None,
                        self._id,
                        self._retry,
                    )
                )
            elif self._retry is not None or self._id is not None:
                events.append(SSEEvent(None, None, self._id, self._retry))
            self._reset()
            return
        if line[0] == ":":  # comment / keep-alive
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        # any other field name is ignored, as the standard says
