"""Learners who practise, simulated: does scheduling from results beat the fixed cooldown?

Each simulated learner has a CEFR level and a hidden true skill from 0 to 1 in each of the 12 pairs
(three of them weak). Every day they talk, and make errors in each pair at `error_rate(skill)` a
day; then they ask for the day's practice: their errors of the last WINDOW_DAYS are ranked by the
service's own scoring (`tutor.scoring`, decay with a 7-day half-life), and for each of the top
TOP_PAIRS pairs the service's own `select_exercises` picks EXERCISES_PER_PAIR exercises from the
shipped bank, which the learner does at once:

- each item of an exercise is answered right with `p_right(skill, levels_above)`, where
  `levels_above` is how many CEFR levels the exercise is above the learner (negative: below); an
  open task without items is scored as if it had OPEN_TASK_ITEMS; the score is the share right;
- an exercise is *mastered* when it is recommended if the learner's `p_right` for it is above
  MASTERED_P and their last attempt at it scored at least RIGHT_SCORE; recommending it is wasted;
- the score teaches: `gain(skill, score)` is added to the pair's skill, half of it for good, the
  other half fading with a half-life of FORGETTING_HALF_LIFE_DAYS.

The two policies see the same learners, talk with the same random draws and answer with the same
stream of draws (which diverge once the exercises differ):

- "cooldown 7 d", the selection before the schedule: every exercise rests for 7 days after it is
  done, however it went (`select_exercises` with practice due 7 days after the last attempt and
  `cooldown_since` 7 days ago: the old rests and repeats; the README says how the order differs);
- "schedule from results": `select_exercises` with each exercise's practice from
  `tutor.scheduling.replay` of its attempts, and no cooldown, as the service does by default.
"""

import json
import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from tutor import scheduling
from tutor.buffer import to_micros
from tutor.exercise_bank import EXERCISE_FIELDS
from tutor.practice import Practice
from tutor.ranking import select_exercises
from tutor.scoring import MODES, Scoring, rank, score_pairs
from tutor.stored_rows import pairs_of
from tutor.taxonomy import LEVEL_RANK, CEFRLevel, ErrorSubCategory

BANK = Path(__file__).parent / "fixtures" / "exercises.json"
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; any fixed moment gives the same table
DAYS = 60
HISTORY_DAYS = 14  # errors made before the first day, at the starting skill, so that day one has a ranking
LAST_DAYS = 7  # the end, over which errors per day are measured
TALK_HOURS = (8, 20)  # errors fall uniformly in these hours of the day
PRACTICE_HOUR = 21
WINDOW_DAYS = 30
SCORING = Scoring("decay", 7)
TOP_PAIRS = 2
EXERCISES_PER_PAIR = 2
COOLDOWN = timedelta(days=7)
WEAK_PAIRS = 3
WEAK_SKILL = (0.1, 0.4)
OTHER_SKILL = (0.6, 0.95)
LEARNER_LEVELS = CEFRLevel.values[:5]  # A1 to C1: a C2 learner has no harder exercise to meet
ERRORS_PER_DAY_AT_NO_SKILL = 3.0
OPEN_TASK_ITEMS = 5
MASTERED_P = 0.95
RIGHT_SCORE = 0.9
LEARNING_RATE = 0.05
FORGETTING_HALF_LIFE_DAYS = 14
SUBCATEGORIES = tuple(ErrorSubCategory.values)

Attempts = list[tuple[datetime, float]]


def error_rate(skill: float) -> float:
    """Errors a day in one pair: 3 * (1 - skill) ** 2, so 3 at no skill, 0.12 at 0.8 and none at 1."""
    return ERRORS_PER_DAY_AT_NO_SKILL * (1 - skill) ** 2


def p_right(skill: float, levels_above: int) -> float:
    """Chance of one item right: 1 / (1 + exp(-(8 * (skill - 0.5) - 1.5 * levels above the learner's)))."""
    return 1 / (1 + math.exp(-(8 * (skill - 0.5) - 1.5 * levels_above)))


def gain(skill: float, score: float) -> float:
    """What an attempt adds to the pair's skill: 0.05 * (1 - skill) * 4 * score * (1 - score).

    Diminishing returns as the skill grows; most from an exercise half right, nothing from one
    all right (nothing new) or all wrong (nothing understood).
    """
    return LEARNING_RATE * (1 - skill) * 4 * score * (1 - score)


@dataclass(frozen=True)
class Learner:
    index: int
    level: str
    skill: dict[int, float]  # the true skill at the start, by subcategory
    history: tuple[tuple[int, int], ...]  # errors (subcategory, µs) made before the first day


@dataclass(frozen=True)
class Policy:
    name: str
    practice_of: Callable[[Attempts], Practice]  # one exercise's practice from its attempts, in order
    cooldown: timedelta | None  # exercises done within it rest, due or not


def _cooled(attempts: Attempts) -> Practice:
    return Practice(attempts[-1][0], attempts[-1][0] + COOLDOWN)


def _scheduled(attempts: Attempts) -> Practice:
    return scheduling.replay(attempts)[1]


COOLDOWN_POLICY = Policy("cooldown 7 d", _cooled, COOLDOWN)
SCHEDULE_POLICY = Policy("schedule from results", _scheduled, None)
POLICIES = (COOLDOWN_POLICY, SCHEDULE_POLICY)


@dataclass
class Outcome:
    """What one learner did under one policy."""

    errors_by_day: list[int]
    recommended: int = 0
    wasted: int = 0
    skill: dict[int, float] = field(default_factory=dict)  # the true skill at the end
    attempts: dict[UUID, Attempts] = field(default_factory=dict)  # by exercise, in the order done
    offered: list[tuple[datetime, int, list[UUID]]] = field(default_factory=list)  # (when, subcategory, exercises)


@dataclass
class _Skill:
    """One pair's true skill: the start, plus gains kept for good, plus gains that fade."""

    start: float
    kept: float = 0.0
    fading: float = 0.0

    @property
    def value(self) -> float:
        return self.start + self.kept + self.fading

    def learn(self, score: float) -> None:
        added = gain(self.value, score)
        self.kept += added / 2
        self.fading += added / 2

    def forget_a_day(self) -> None:
        self.fading *= 0.5 ** (1 / FORGETTING_HALF_LIFE_DAYS)


def load_bank(path: Path = BANK) -> dict[int, list[dict]]:
    """Return the active exercises of a bank fixture by subcategory, in the service's order, with their item count."""
    bank = defaultdict(list)
    for row in json.loads(path.read_text()):
        fields = row["fields"]
        if row["model"] != "tutor.exercise" or not fields.get("is_active", True):
            continue
        exercise = {name: fields[name] for name in EXERCISE_FIELDS if name != "id"}
        exercise["id"] = UUID(row["pk"])
        exercise["items"] = len(fields["content"].get("items", [])) or OPEN_TASK_ITEMS
        bank[fields["errorSubCategory"]].append(exercise)
    for pool in bank.values():
        pool.sort(key=lambda e: (e["level"], e["title"], str(e["id"])))
    return dict(bank)


def make_learners(count: int, seed: int) -> list[Learner]:
    """Draw `count` learners: a level from A1 to C1, three weak pairs, and HISTORY_DAYS of errors."""
    learners = []
    for index in range(count):
        rng = random.Random(f"{seed}:{index}:learner")
        weak = set(rng.sample(SUBCATEGORIES, WEAK_PAIRS))
        skill = {sub: rng.uniform(*(WEAK_SKILL if sub in weak else OTHER_SKILL)) for sub in SUBCATEGORIES}
        history = tuple(
            error for day in range(-HISTORY_DAYS, 0) for error in _talk(rng, START + timedelta(days=day), skill)
        )
        learners.append(Learner(index, rng.choice(LEARNER_LEVELS), skill, history))
    return learners


def _talk(rng: random.Random, day: datetime, skill: dict[int, float]) -> list[tuple[int, int]]:
    """A day's errors (subcategory, µs): a Poisson process at `error_rate` in each pair, over the talking hours."""
    first, last = TALK_HOURS
    errors = []
    for sub in SUBCATEGORIES:
        rate, at = error_rate(skill[sub]), 0.0
        while rate > 0:
            at += rng.expovariate(rate)
            if at >= 1:
                break
            errors.append((sub, to_micros(day + timedelta(hours=first + at * (last - first)))))
    return errors


def top_pairs(errors: list[tuple[int, int]], now: datetime) -> list[int]:
    """The subcategories the service would rank first from these errors (the window's), through its own scoring."""
    since = to_micros(now - timedelta(days=WINDOW_DAYS))
    rows = pairs_of((e for e in errors if since <= e[1]), MODES[SCORING.mode].rows)
    return [stat.subcategory for stat in rank(score_pairs(rows, [], SCORING, to_micros(now)))[:TOP_PAIRS]]


def simulate(learner: Learner, policy: Policy, bank: dict[int, list[dict]], *, days: int, seed: int) -> Outcome:
    """Live `days` days of one learner under one policy: talk, ask for practice, do it."""
    talk_rng = random.Random(f"{seed}:{learner.index}:talk")
    answer_rng = random.Random(f"{seed}:{learner.index}:answers")
    skill = {sub: _Skill(start) for sub, start in learner.skill.items()}
    errors = list(learner.history)
    practice: dict[UUID, Practice] = {}
    outcome = Outcome(errors_by_day=[])
    for day in range(days):
        morning = START + timedelta(days=day)
        for pair in skill.values():
            pair.forget_a_day()
        today = _talk(talk_rng, morning, {sub: pair.value for sub, pair in skill.items()})
        errors += today
        outcome.errors_by_day.append(len(today))
        now = morning + timedelta(hours=PRACTICE_HOUR)
        for sub in top_pairs(errors, now):
            offered = recommend(policy, bank.get(sub, []), practice=practice, level=learner.level, now=now)
            outcome.offered.append((now, sub, [exercise["id"] for exercise in offered]))
            for exercise in offered:
                pair = skill[sub]
                chance = p_right(pair.value, LEVEL_RANK[exercise["level"]] - LEVEL_RANK[learner.level])
                done = outcome.attempts.setdefault(exercise["id"], [])
                outcome.recommended += 1
                outcome.wasted += chance > MASTERED_P and bool(done) and done[-1][1] >= RIGHT_SCORE
                score = sum(answer_rng.random() < chance for _ in range(exercise["items"])) / exercise["items"]
                pair.learn(score)
                done.append((now, score))
                practice[exercise["id"]] = policy.practice_of(done)
    outcome.skill = {sub: pair.value for sub, pair in skill.items()}
    return outcome


def recommend(
    policy: Policy, pool: list[dict], *, practice: dict[UUID, Practice], level: str, now: datetime
) -> list[dict]:
    """The exercises of one pair the service offers under the policy: its own `select_exercises`."""
    return select_exercises(
        pool,
        practice=practice,
        level=level,
        limit=EXERCISES_PER_PAIR,
        now=now,
        cooldown_since=None if policy.cooldown is None else now - policy.cooldown,
    )


@dataclass(frozen=True)
class Row:
    """One policy's figures over all learners."""

    policy: str
    errors_first: float  # errors a day, mean over the first LAST_DAYS days and the learners
    errors_last: float  # the same over the last LAST_DAYS days
    recommended: int
    wasted: int
    skill: float  # mean true skill at the end, over every pair
    weak_skill: float  # over the pairs weak at the start

    @property
    def wasted_share(self) -> float:
        return self.wasted / self.recommended if self.recommended else 0.0


def evaluate(*, learners: int, seed: int, days: int = DAYS, bank: dict[int, list[dict]] | None = None) -> list[Row]:
    """Simulate the same learners under each policy and return one row per policy."""
    bank = load_bank() if bank is None else bank
    population = make_learners(learners, seed)
    window = min(LAST_DAYS, days)
    rows = []
    for policy in POLICIES:
        outcomes = [(learner, simulate(learner, policy, bank, days=days, seed=seed)) for learner in population]
        weak = [
            o.skill[sub] for learner, o in outcomes for sub, start in learner.skill.items() if start < OTHER_SKILL[0]
        ]
        rows.append(
            Row(
                policy=policy.name,
                errors_first=sum(sum(o.errors_by_day[:window]) for _, o in outcomes) / (window * len(outcomes)),
                errors_last=sum(sum(o.errors_by_day[-window:]) for _, o in outcomes) / (window * len(outcomes)),
                recommended=sum(o.recommended for _, o in outcomes),
                wasted=sum(o.wasted for _, o in outcomes),
                skill=sum(sum(o.skill.values()) for _, o in outcomes) / (len(SUBCATEGORIES) * len(outcomes)),
                weak_skill=sum(weak) / len(weak),
            )
        )
    return rows


def table(rows: list[Row]) -> list[str]:
    """The rows as the lines of a table."""
    lines = [
        f"{'policy':22} {'errors a day':>13} {'errors a day':>13} {'recommended':>12} {'wasted':>7} {'wasted':>7}"
        f" {'skill at end':>13} {'weak pairs':>11}",
        f"{'':22} {f'first {LAST_DAYS} d':>13} {f'last {LAST_DAYS} d':>13} {'':>12} {'':>7} {'share':>7}"
        f" {'all pairs':>13} {'at end':>11}",
    ]
    lines += [
        f"{r.policy:22} {r.errors_first:13.2f} {r.errors_last:13.2f} {r.recommended:12d} {r.wasted:7d}"
        f" {r.wasted_share:7.1%} {r.skill:13.3f} {r.weak_skill:11.3f}"
        for r in rows
    ]
    return lines
