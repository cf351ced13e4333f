"""The flush locks, one per shard: they save duplicate work between flushers; correctness never needs them."""

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
    """A shard's flush lock while a flusher holds it; it lapses `seconds` after it was last taken or renewed."""

    token: str
    seconds: float
    shard: keys.Shard

    def renew(self) -> bool:
        """Hold the lock for `seconds` more; say whether it was still ours."""
        options = {"token": self.token, "milliseconds": int(self.seconds * 1000)}
        return bool(run("take_lock", [self.shard.flush_lock], [orjson.dumps(options)], client=client()))


@contextmanager
def flush_lock(shard: keys.Shard, seconds: float) -> Iterator[FlushLock | None]:
    """Hold the shard's flush lock if it is free, for `seconds` at a time; yield it, or None when another flusher
    has it."""
    lock = FlushLock(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4()}", seconds, shard)
    taken = lock.renew()
    try:
        yield lock if taken else None
    finally:
        if taken:
            # Release only our own lock: it may have lapsed and been taken by another flusher.
            run("release_lock", [shard.flush_lock], [orjson.dumps({"token": lock.token})], client=client())
