"""The retry policy and the one clock of a call.

One retry layer, here: connection errors, timeouts and retryable statuses are
tried again with exponential backoff and jitter, honouring `Retry-After`, as
long as `max_retries` and the call's deadline (`total_timeout`) allow.
`ChatClient` drives `CallState.attempts()` from a thin sync and a thin async
loop, so the decisions are written once.

Timeouts, all measured on one clock per call:

* `connect_timeout` bounds each connection attempt;
* `timeout` bounds a whole non-streamed answer (sending, waiting and reading the
  body) and each read of a stream (the wait for its next bytes);
* `stall_timeout` bounds how long a stream may go without a data event, whether it
  is silent or sends only keep-alive comments;
* `total_timeout` caps the whole call: every attempt, the backoff between them and
  the reading of the answer; no attempt or retry starts once it has run out, and
  each network wait is shortened to what is left of it (a read already under way
  when it runs out ends within that read's own bound).

Without `total_timeout` the worst case is about `(max_retries + 1) * timeout` plus backoff.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .errors import APIStatusError, DomesticLLMError

log = logging.getLogger("domestic_llm")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before each retry, and whether to retry at all."""

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 30.0

    @staticmethod
    def parse_retry_after(value: str | None) -> float | None:
        """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None

    def delay(self, retries_done: int, exc: DomesticLLMError, remaining: float | None) -> float | None:
        """Seconds to wait before the next attempt, or `None` to give up.

        `remaining` is the time left before the call's deadline (`None`: no deadline);
        a retry that could not start before it is not made.
        """
        if retries_done >= self.max_retries or not exc.retryable:
            return None
        delay = min(self.backoff_cap, self.backoff_base * 2**retries_done) * (0.5 + random.random() / 2)
        retry_after = exc.retry_after if isinstance(exc, APIStatusError) else None
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.retry_after_cap)
        if remaining is not None and delay >= remaining:
            return None
        return delay


@dataclass(slots=True)
class CallState:
    """One call's state: its clock, its retries, and what recovery learned about the server."""

    policy: RetryPolicy
    deadline: float | None = None  # time.monotonic() at which total_timeout runs out
    retries: int = 0
    refreshed_token: bool = False
    no_stream_options: bool = False
    sent_stream_options: bool = False  # the last attempt's body carried stream_options
    sent_body: dict[str, Any] | None = None  # the last attempt's JSON body (what recovery judges a refusal by)
    json_object: bool = False  # json_schema refused: this call now asks for json_object (see structured)
    error: DomesticLLMError | None = None  # the last attempt's error, set by the driving loop
    token: str | None = None  # the last attempt's credential, scrubbed from errors built from what the server sent
    options: Any = None  # the call's parse options (a dialect adds per-call stops, markers, prompt)
    fixes: Any = None  # the call's answer fix-ups (`fixups.AnswerFixes`, from the model-family plan)

    @classmethod
    def start(cls, policy: RetryPolicy, total_timeout: float | None, options: Any = None,
              fixes: Any = None) -> CallState:
        return cls(policy, None if total_timeout is None else time.monotonic() + total_timeout, options=options,
                   fixes=fixes)

    def read_deadline(self, timeout: float | None) -> float | None:
        """When an attempt's whole answer must have arrived: `timeout` from now, within the call's deadline."""
        ends = [d for d in (self.deadline, None if timeout is None else time.monotonic() + timeout) if d is not None]
        return min(ends) if ends else None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative); `None` without `total_timeout`."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def timeouts(self, timeout: float | None, connect: float | None, stall: float | None = None) -> httpx.Timeout:
        """httpx timeouts of one attempt: each bound shortened to what is left of the call.

        `stall` (streams only) also bounds every read, so a silent stream trips it.
        """
        remaining = self.remaining()
        read = _least(timeout, stall, remaining)
        return httpx.Timeout(read, connect=_least(connect, remaining), write=_least(timeout, remaining),
                             pool=_least(timeout, remaining))

    def attempts(self, can_recover: Callable[[CallState], bool]) -> Iterator[float]:
        """Seconds to wait before each attempt (0 for the first); ends by raising the last error.

        The loop driving it sets `error` after a failed attempt and stops iterating
        on success. `can_recover(state)` fixes the request (fresh token, no
        `stream_options`) and says whether to try again at once.
        """
        yield 0.0
        while True:
            exc = self.error
            assert exc is not None, "the driving loop sets error before asking for another attempt"
            if can_recover(self):
                yield 0.0
                continue
            delay = self.policy.delay(self.retries, exc, self.remaining())
            if delay is None:
                raise exc
            self.retries += 1
            log.info("domestic_llm: retrying after %s (attempt %d, in %.2fs)", type(exc).__name__, self.retries, delay)
            yield delay


def _least(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
