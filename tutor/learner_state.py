"""What readers computed of a learner, kept in the buffer beside the learner's version.

It comes back in the learner's snapshot, so a warm read is one round trip. It holds while the
buffer's generation and the learner's version are those it is labelled with: every change that matters
bumps the version (a flush or a direct write of the learner's errors, a new attempt, a new level).
Each part expires on its own even so (a bump is best effort, and a window's trailing edge moves):
saving the state again never makes a part live longer.

Layout: the JSON of the kept fields with FORMAT, a NUL, then the last answer as rendered. A warm
read parses only the JSON. A payload of another FORMAT (another release sharing the Redis) or one
that cannot be read is ignored, and the state computed again: never misread.
"""

import time
from dataclasses import dataclass, field
from functools import cached_property

import orjson

from tutor.buffer import Snapshot
from tutor.stored_rows import PairRows, Rows

FORMAT = 2  # bump on any change of the kept fields' meaning or layout


@dataclass
class WindowRows:
    """The stored rows of one window and shape, true until `until` (time.time())."""

    until: float
    pairs: list[PairRows]


@dataclass
class Profile:
    """The learner's level and practice (exercise id -> {"last_done", "due"} in µs), true until `until`."""

    until: float
    level: str | None
    practice: dict[str, dict[str, int]]


@dataclass
class KeptAnswer:
    """The query the kept rendered answer replies to, true until `until`."""

    query: str
    until: float


@dataclass
class LearnerState:
    """A learner's kept state (labelled with the generation and version it holds under) and this request's use of it.

    `windows` (the rows by `window_key`) and `profile` are read from the kept JSON when first used:
    a kept answer that serves needs neither.
    """

    generation: str
    version: int
    answer: KeptAnswer | None = None
    body: bytes = b""  # the kept answer, rendered
    kept: dict = field(default_factory=dict, repr=False)  # the kept JSON of this format and label
    # This request's bookkeeping, never kept:
    changed: bool = False  # a part was computed: keep the state again
    verified: bool = False  # PostgreSQL just said the learner exists: the buffer is told with the state

    @cached_property
    def windows(self) -> dict[str, WindowRows]:
        now = time.time()
        return {
            key: WindowRows(window["until"], [PairRows(**pair) for pair in window["pairs"]])
            for key, window in self.kept.get("windows", {}).items()
            if window["until"] > now
        }

    @cached_property
    def profile(self) -> Profile | None:
        profile = self.kept.get("profile")
        return Profile(**profile) if profile and profile["until"] > time.time() else None

    def dumps(self) -> bytes:
        """Return the payload to keep."""
        head = {
            "format": FORMAT,
            "generation": self.generation,
            "version": self.version,
            "windows": self.windows,
            "profile": self.profile,
            "answer": self.answer,
        }
        return orjson.dumps(head) + b"\0" + self.body


def window_key(last_n_days: int | None, rows: Rows) -> str:
    """Name the rows of a window and shape (all time when `last_n_days` is None)."""
    return f"{last_n_days or 0}:{rows}"


def read(snap: Snapshot) -> LearnerState:
    """Return what is kept of the snapshot's learner and still holds (an empty state when nothing does)."""
    state = LearnerState(snap.generation, snap.version)
    if not snap.state:
        return state
    head, _, body = snap.state.partition(b"\0")
    try:
        kept = orjson.loads(head)
    except orjson.JSONDecodeError:
        return state
    if not (
        isinstance(kept, dict)
        and kept.get("format") == FORMAT
        and kept["generation"] == snap.generation
        and kept["version"] == snap.version
    ):
        return state
    state.kept = kept
    answer = kept["answer"]
    if answer and answer["until"] > time.time():
        state.answer, state.body = KeptAnswer(**answer), body
    return state
