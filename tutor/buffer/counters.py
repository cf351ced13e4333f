"""The throttle's window counters, counted alone or in the round trip of a read or a write.

On a cluster a counter (keyed by client) and a learner's keys (tagged with the learner's shard)
lie in different slots, so no script can touch both: there the request is counted in a round trip
of its own, before the read or the write. `for_script` alone decides.
"""

import contextlib
from dataclasses import dataclass

import orjson
from django.conf import settings

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, request_client, run, translated_errors


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


def for_script(counter: WindowCounter | None) -> WindowCounter | None:
    """Return the counter for the script of a read or write to count the request in, or None if it needs none.

    On one Redis that script counts it, in the round trip it makes anyway. On a cluster the request
    is counted here first, in a round trip of its own (OverLimit past the limit); a counter whose
    node cannot count it (full or unreachable) lets the request through uncounted, as one Redis
    does for reads, and the read or write then meets its own shard's node. A request counted
    already (a write tried again once its learners were looked up) is not counted again.
    """
    if counter is None or not settings.EVENT_BUFFER_CLUSTER:
        return counter
    if counter.counted:
        return None
    with contextlib.suppress(BufferFull, BufferUnavailable):
        counter.took(count(counter))
    return None
