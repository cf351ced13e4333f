"""The flush lock: it saves duplicate work between flushers; correctness never needs it."""

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import orjson

from tutor.buffer import keys
from tutor.buffer.connection import client, run


@dataclass
class FlushLock:
    """The flush lock while a flusher holds it; it lapses `seconds` after it was last taken or renewed."""

    token: str
    seconds: float

    def renew(self) -> bool:
        """Hold the lock for `seconds` more; say whether it was still ours."""
        options = {"token": self.token, "milliseconds": int(self.seconds * 1000)}
        return bool(run("take_lock", [keys.FLUSH_LOCK], [orjson.dumps(options)], client=client()))


@contextmanager
def flush_lock(seconds: float) -> Iterator[FlushLock | None]:
    """Hold the flush lock if it is free, for `seconds` at a time; yield it, or None when another flusher has it."""
    lock = FlushLock(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4()}", seconds)
    taken = lock.renew()
    try:
        yield lock if taken else None
    finally:
        if taken:
            # Release only our own lock: it may have lapsed and been taken by another flusher.
            run("release_lock", [keys.FLUSH_LOCK], [orjson.dumps({"token": lock.token})], client=client())
