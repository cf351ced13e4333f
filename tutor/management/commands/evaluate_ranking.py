"""Offline evaluation: the ranking modes on synthetic learners with planted weaknesses, and practice simulated."""

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tutor import practice_simulation
from tutor.models import Error, User
from tutor.ranking import top_errors
from tutor.scoring import Scoring
from tutor.taxonomy import CATEGORY_OF

HISTORY_DAYS = 60
TOP = 3
MODES = [
    ("count", Scoring("count")),
    ("decay, half-life 7 d", Scoring("decay", 7)),
    ("decay, half-life 14 d", Scoring("decay", 14)),
    ("decay, half-life 30 d", Scoring("decay", 30)),
    ("recent (last 3 days)", Scoring("recent")),
]


@dataclass(frozen=True)
class Learner:
    user_id: uuid.UUID
    stable: int  # a weakness all along
    new: int  # a weakness that appeared in the last 7 days
    fixed: int  # a weakness of 60 to 21 days ago, gone since


def _poisson_times(rng: random.Random, rate_per_day: float, start_days_ago: float, end_days_ago: float) -> list[float]:
    """Return error ages (days) of a Poisson process with `rate_per_day` between the two ages."""
    ages, age = [], end_days_ago
    while True:
        age += rng.expovariate(rate_per_day)
        if age > start_days_ago:
            return ages
        ages.append(age)


class Command(BaseCommand):
    help = (
        "Plant weaknesses in synthetic learners (a fixed seed), rank them with each mode through the service "
        "code, and print recall@3 of the planted weaknesses (everything it writes is rolled back); then simulate "
        "learners who practise for --days days under the 7-day cooldown and under the schedule from results, "
        "and print their errors a day and the recommendations wasted on exercises already mastered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--learners", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--days", type=int, default=practice_simulation.DAYS, help="of the practice simulation")
        parser.add_argument("--part", choices=["ranking", "practice", "both"], default="both")

    def handle(self, *args, learners, seed, days, part, **options):
        if learners < 1 or days < 1:
            raise CommandError("--learners and --days must be at least 1.")
        if part in ("ranking", "both"):
            self._rankings(learners, seed)
        if part == "both":
            self.stdout.write("")
        if part in ("practice", "both"):
            self._practice(learners, seed, days)

    def _practice(self, learners: int, seed: int, days: int) -> None:
        rows = practice_simulation.evaluate(learners=learners, seed=seed, days=days)
        self.stdout.write(
            f"Practice simulation: {learners} learners (seed {seed}), {days} days, each day the top "
            f"{practice_simulation.TOP_PAIRS} pairs ({practice_simulation.SCORING.mode}, half-life "
            f"{practice_simulation.SCORING.half_life_days:g} d, last {practice_simulation.WINDOW_DAYS} days) "
            f"x {practice_simulation.EXERCISES_PER_PAIR} exercises"
        )
        for line in practice_simulation.table(rows):
            self.stdout.write(line)

    def _rankings(self, learners: int, seed: int) -> None:
        rng = random.Random(seed)
        with transaction.atomic():
            population = self._plant(rng, learners)
            rows = [(label, *self._measure(population, scoring)) for label, scoring in MODES]
            transaction.set_rollback(True)
        self.stdout.write(
            f"Ranking evaluation: {learners} synthetic learners (seed {seed}), {HISTORY_DAYS} days of errors, "
            f"top {TOP}, window = all history"
        )
        self.stdout.write(f"{'ranking':24} {'stable weakness':>16} {'new weakness':>14} {'fixed weakness':>16}")
        self.stdout.write(f"{'':24} {'recall@3':>16} {'recall@3':>14} {'still in top 3':>16}")
        for label, stable, new, fixed in rows:
            self.stdout.write(f"{label:24} {stable:16.2f} {new:14.2f} {fixed:16.2f}")

    def _plant(self, rng: random.Random, count: int) -> list[Learner]:
        now = timezone.now()
        population, errors = [], []
        for i in range(count):
            user = User(username=f"evaluation-{i}", email=f"evaluation-{i}@example.com", first_name="E", last_name="L")
            stable, new, fixed = rng.sample(range(1, 13), 3)
            plan = [(sub, rng.uniform(0.05, 0.35), HISTORY_DAYS, 0) for sub in range(1, 13)]  # background
            plan += [(stable, 0.6, HISTORY_DAYS, 0), (new, 2.5, 7, 0), (fixed, 1.5, HISTORY_DAYS, 21)]
            for sub, rate, start, end in plan:
                errors += [
                    Error(
                        user=user,
                        errorCategory=CATEGORY_OF[sub],
                        errorSubCategory=sub,
                        timestamp_utc=now - timedelta(days=age),
                    )
                    for age in _poisson_times(rng, rate, start, end)
                ]
            population.append(Learner(user.pk, stable, new, fixed))
            User.objects.bulk_create([user])
        Error.objects.bulk_create(errors, batch_size=5000)
        return population

    def _measure(self, population: list[Learner], scoring: Scoring) -> tuple[float, float, float]:
        hits = {"stable": 0, "new": 0, "fixed": 0}
        for learner in population:
            top = {
                s.subcategory for s in top_errors(user_id=learner.user_id, last_n_days=None, limit=TOP, scoring=scoring)
            }
            hits["stable"] += learner.stable in top
            hits["new"] += learner.new in top
            hits["fixed"] += learner.fixed in top
        return hits["stable"] / len(population), hits["new"] / len(population), hits["fixed"] / len(population)
