"""Accepted error events, as the API hands them to the buffer and as the buffer holds them."""

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# The API refuses events from before this time.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Return the moment in µs since the Unix epoch."""
    return (moment - UNIX_EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    """Return the moment `micros` µs after the Unix epoch."""
    return UNIX_EPOCH + micros * MICROSECOND


class Event(NamedTuple):
    """An accepted, validated error event (a tuple: batches create a thousand at a time)."""

    event_id: uuid.UUID
    user_id: uuid.UUID
    category: int
    subcategory: int
    timestamp: datetime

    def buffered(self) -> "BufferedEvent":
        return BufferedEvent(
            event_id=str(self.event_id),
            user_id=str(self.user_id),
            category=self.category,
            subcategory=self.subcategory,
            micros=to_micros(self.timestamp),
        )


class BufferedEvent(NamedTuple):
    """An event as the buffer holds it: ids as text and time in µs, cheap to read back and to COPY.

    Read it by field name: its order is no format (the stream entry names its fields, entries.py).
    """

    event_id: str
    user_id: str
    category: int
    subcategory: int
    micros: int


def new_event_ids(count: int) -> list[uuid.UUID]:
    """Return `count` random (version 4) event ids, from one read of the system's random source."""
    raw = os.urandom(16 * count)
    return [uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * count, 16)]
