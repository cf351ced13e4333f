"""The ranking modes, defined once: which stored rows each reads and how it scores a pair.

Everything else follows the registry: the `ranking` parameter accepts the modes in MODES (both
query parsers read it when they validate), its OpenAPI description is their `help`, and the rows
kept for a learner are keyed by what a mode reads, not by its name. Adding a mode is registering
it below, listing it in the README's API table, and one test of how it ranks (README: "Adding a
ranking mode").
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tutor.buffer import from_micros
from tutor.stored_rows import PairRows, Rows
from tutor.taxonomy import CATEGORY_OF

RECENT_DAYS = 3
_DAY_MICROS = 86400 * 1_000_000


@dataclass(frozen=True)
class ErrorStat:
    category: int
    subcategory: int
    frequency: int
    last_seen: datetime
    score: float


@dataclass(frozen=True)
class Scoring:
    """A ranking mode, by name, with the query's parameters."""

    mode: str = "count"
    half_life_days: float = 7.0

    def weight(self, age_seconds: float) -> float:
        return 0.5 ** (max(age_seconds, 0.0) / (self.half_life_days * 86400))


DEFAULT_SCORING = Scoring()


@dataclass(frozen=True)
class Mode:
    """A ranking mode: the rows it reads, how it scores one pair, and how the score is shown."""

    name: str
    rows: Rows
    score: Callable[[PairRows, int, Scoring], float]  # (the pair's errors in the window, now in µs, parameters)
    whole: bool  # the score counts errors: shown as a whole number, else to 6 significant digits
    help: str  # what it ranks by, in the API's documentation

    def shown(self, score: float) -> int | float:
        return int(score) if self.whole else float(f"{score:.6g}")


MODES: dict[str, Mode] = {}


def register(mode: Mode) -> Mode:
    """Make a ranking mode known to the API and to the ranking."""
    MODES[mode.name] = mode
    return mode


def _count(pair: PairRows, now: int, scoring: Scoring) -> float:
    return float(pair.count)


def _decay(pair: PairRows, now: int, scoring: Scoring) -> float:
    return sum(scoring.weight((now - micros) / 1e6) for micros in pair.times)


def _recent(pair: PairRows, now: int, scoring: Scoring) -> float:
    since = now - RECENT_DAYS * _DAY_MICROS
    return float(sum(micros >= since for micros in pair.times))


DEFAULT = "count"
register(Mode(name="count", rows=Rows.TOTALS, score=_count, whole=True, help="errors in the window (default)."))
register(
    Mode(
        name="decay",
        rows=Rows.TIMES,
        score=_decay,
        whole=False,
        help="each error weighs 0.5 ** (age in days / half_life_days): recent errors weigh more.",
    )
)
register(
    Mode(
        name="recent",
        rows=Rows.TIMES,
        score=_recent,
        whole=True,
        help=f"errors of the last {RECENT_DAYS} days, counted (the window's count breaks ties).",
    )
)


def score_pairs(stored: list[PairRows], pending: list[PairRows], scoring: Scoring, now: int) -> list[ErrorStat]:
    """Score each pair of the stored and pending errors (of the mode's shape) at `now` (µs)."""
    mode = MODES[scoring.mode]
    pairs = {pair.subcategory: pair for pair in stored}
    for pair in pending:
        pairs[pair.subcategory] = pairs[pair.subcategory].plus(pair) if pair.subcategory in pairs else pair
    return [
        ErrorStat(CATEGORY_OF[sub], sub, pair.count, from_micros(pair.last), mode.score(pair, now, scoring))
        for sub, pair in pairs.items()
    ]


def rank(stats: list[ErrorStat]) -> list[ErrorStat]:
    """Order pairs by score, then count, then the most recent error, then subcategory number."""
    return sorted(stats, key=lambda s: (-s.score, -s.frequency, -s.last_seen.timestamp(), s.subcategory))
