"""The throttle's window counters, counted alone or in the round trip of a read or a write."""

from dataclasses import dataclass

import orjson

from tutor.buffer import keys
from tutor.buffer.connection import request_client, run, translated_errors


class OverLimit(Exception):
    """The client's request counter passed its limit: nothing was written."""


@dataclass
class WindowCounter:
    """A throttle's counter of one client and window, for one request."""

    name: str  # the client and the window
    seconds: int  # the counter expires after the window
    limit: int
    counted: bool = False  # a script of the buffer counted this request

    @property
    def key(self) -> str:
        return keys.throttle(self.name)

    def took(self, count: int) -> None:
        """Note that a script counted this request, the window's `count`-th; raise OverLimit when past the limit."""
        self.counted = True
        if count > self.limit:
            raise OverLimit(count)


def count(counter: WindowCounter) -> int:
    """Count one request of the counter's client and return the count in this window."""
    n = run("count", [counter.key], [orjson.dumps({"seconds": counter.seconds})])
    counter.counted = True
    return n


def peek(counter: WindowCounter) -> int:
    """Return the count of the counter's client in this window, without counting."""
    with translated_errors():
        return int(request_client().get(counter.key) or 0)
