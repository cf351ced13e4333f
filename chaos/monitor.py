"""What the battery watches while a scenario runs: the flush's progress and the rankings' truth.

Both watchers sample in threads of their own and keep going through outages: a sample that
cannot be taken (PostgreSQL or the buffer's Redis away, the API answering an error) is recorded
as unknown, never as a verdict.
"""

import threading
import time
from dataclasses import dataclass

import psycopg
import redis
import requests

from chaos.buffer_servers import BufferView


class Database:
    """An autocommit connection for samples: short timeouts, reopened after the server went away."""

    def __init__(self, url: str):
        self.url = url
        self._conn: psycopg.Connection | None = None

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple] | None:
        """Return the query's rows, or None when PostgreSQL cannot answer now."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self.url, autocommit=True, connect_timeout=2, options="-c statement_timeout=5000"
                )
            return self._conn.execute(sql, params).fetchall()
        except psycopg.Error:
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Sampler:
    """Call `sample()` every `period` seconds in a thread of its own, from `start()` to `stop()`."""

    period = 1.0

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def sample(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample()
            next_at = max(next_at + self.period, time.monotonic())
            self._stop.wait(next_at - time.monotonic())


@dataclass(frozen=True)
class FlushSample:
    at: float
    entries: int | None  # stream entries waiting, in every shard; None when a server of the buffer did not answer
    stored: int | None  # rows in tutor_error; None when PostgreSQL did not answer


@dataclass(frozen=True)
class Stall:
    seconds: float
    started_at: float  # time.monotonic() when the longest stall began


class FlushWatcher(Sampler):
    """Sample the streams' length and the stored row count, to find the longest stall of the flush."""

    period = 0.25

    def __init__(self, *, buffer: BufferView, database_url: str):
        super().__init__()
        self.buffer = buffer
        self.redis = buffer.client()
        self.database = Database(database_url)
        self.samples: list[FlushSample] = []

    def sample(self) -> None:
        try:
            entries = self.buffer.backlog(self.redis)
        except redis.RedisError:
            entries = None
        rows = self.database.rows("SELECT count(*) FROM tutor_error")
        self.samples.append(FlushSample(time.monotonic(), entries, rows[0][0] if rows else None))

    def stop(self) -> None:
        super().stop()
        self.database.close()


def longest_stall(samples: list[FlushSample]) -> Stall:
    """Return the longest time during which the stream had entries and the stored count did not grow.

    An unknown stream length counts as the last one seen; an unknown stored count as no growth.
    """
    longest = Stall(0.0, samples[0].at if samples else 0.0)
    progress_at = longest.started_at
    entries, most_stored = 0, -1
    for sample in samples:
        if sample.entries is not None:
            entries = sample.entries
        grew = sample.stored is not None and sample.stored > most_stored
        if grew:
            most_stored = sample.stored
        if entries == 0 or grew:
            progress_at = sample.at
        elif sample.at - progress_at > longest.seconds:
            longest = Stall(sample.at - progress_at, progress_at)
    return longest


@dataclass(frozen=True)
class Disagreement:
    seconds: float
    learner: str | None
    started_at: float | None


class RankingWatcher(Sampler):
    """Compare, for a few learners, the API's total with PostgreSQL plus the pending buffer.

    The API's total is the sum of `errorFrequency` over every pair, all time. The truth is the
    learner's distinct event ids in PostgreSQL plus the members of their pending set that
    PostgreSQL does not hold yet. It is read just before and just after the API call, pending set
    first (an event flushed between the two reads is then seen in both and counted once); counts
    only grow, so a right answer lies between the two readings.
    """

    period = 0.5

    def __init__(self, *, api_url: str, token: str, learners: list[str], buffer: BufferView, database_url: str):
        super().__init__()
        self.url = f"{api_url}/api/generate-exercise"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.learners = learners
        self.buffer = buffer
        self.redis = buffer.client()
        self.database = Database(database_url)
        self.samples: dict[str, list[tuple[float, bool | None]]] = {learner: [] for learner in learners}

    def sample(self) -> None:
        for learner in self.learners:
            self.samples[learner].append((time.monotonic(), self.agrees(learner)))

    def agrees(self, learner: str) -> bool | None:
        """Say whether the API's total lies between two readings of the truth; None when one could not be read."""
        before = self.truth(learner)
        ranked = self.ranked(learner)
        after = self.truth(learner)
        if before is None or ranked is None or after is None:
            return None
        return before <= ranked <= after

    def ranked(self, learner: str) -> int | None:
        try:
            response = self.session.get(self.url, params={"user_id": learner, "exercises_per_error": 1}, timeout=10)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        return sum(error["errorFrequency"] for error in response.json()["top_errors"])

    def truth(self, learner: str) -> int | None:
        try:
            members = self.redis.zrange(self.buffer.shard_of(learner).pending(learner), 0, -1)
        except redis.RedisError:
            return None
        pending = sorted({member.decode().split(":")[0] for member in members})
        rows = self.database.rows(
            "SELECT (SELECT count(DISTINCT event_id) FROM tutor_error WHERE user_id = %s), "
            "(SELECT count(*) FROM unnest(%s::uuid[]) AS p(id) "
            " WHERE NOT EXISTS (SELECT 1 FROM tutor_error e WHERE e.event_id = p.id))",
            (learner, pending),
        )
        return None if rows is None else rows[0][0] + rows[0][1]

    def stop(self) -> None:
        super().stop()
        self.session.close()
        self.database.close()

    def longest(self) -> Disagreement:
        """Return the longest continuous disagreement of any learner (unknown samples neither start nor end one)."""
        worst = Disagreement(0.0, None, None)
        for learner, samples in self.samples.items():
            seconds, since = longest_run(samples)
            if seconds > worst.seconds:
                worst = Disagreement(seconds, learner, since)
        return worst


def longest_run(samples: list[tuple[float, bool | None]]) -> tuple[float, float | None]:
    """Return the longest run of disagreement and when it began.

    A run lasts from its first disagreeing sample to the next agreeing one (or the last sample).
    """
    longest, longest_since, since = 0.0, None, None
    last_at = samples[-1][0] if samples else 0.0
    for at, agrees in samples:
        if agrees is None:
            continue
        if not agrees and since is None:
            since = at
        elif agrees and since is not None:
            if at - since > longest:
                longest, longest_since = at - since, since
            since = None
    if since is not None and last_at - since > longest:
        longest, longest_since = last_at - since, since
    return longest, longest_since
