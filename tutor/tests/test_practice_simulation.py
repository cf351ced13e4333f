"""The practice simulation of `evaluate_ranking`: deterministic, plausible, and run on the service's own selection."""

from datetime import timedelta
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command

from tutor import practice_simulation, scheduling
from tutor.buffer import to_micros
from tutor.practice import Practice
from tutor.practice_simulation import COOLDOWN_POLICY, SCHEDULE_POLICY, START, Learner, simulate
from tutor.ranking import select_exercises
from tutor.taxonomy import ErrorSubCategory

TENSE = ErrorSubCategory.TENSE.value
BANK = practice_simulation.load_bank()


def practise(*, learners: int, days: int, seed: int = 7) -> str:
    out = StringIO()
    call_command("evaluate_ranking", learners=learners, seed=seed, days=days, part="practice", stdout=out)
    return out.getvalue()


def fluent(level: str = "B1") -> Learner:
    """A learner who knows everything, with ten errors in Tense made the day before the simulation."""
    history = tuple((TENSE, to_micros(START - timedelta(hours=30 - n))) for n in range(10))
    return Learner(0, level, dict.fromkeys(practice_simulation.SUBCATEGORIES, 1.0), history)


def test_the_same_seed_prints_the_same_table():
    first = practise(learners=4, days=12)
    assert first == practise(learners=4, days=12)
    assert first != practise(learners=4, days=12, seed=8)
    assert "cooldown 7 d" in first
    assert "schedule from results" in first


def test_a_fluent_learner_makes_no_errors_and_wastes_the_cooldowns_recommendations():
    cooldown = simulate(fluent(), COOLDOWN_POLICY, BANK, days=28, seed=1)
    schedule = simulate(fluent(), SCHEDULE_POLICY, BANK, days=28, seed=1)

    assert sum(cooldown.errors_by_day) == sum(schedule.errors_by_day) == 0
    assert cooldown.recommended == schedule.recommended == 28 * 2  # Tense alone is ranked: one pair a day
    # From the second week on the cooldown brings back what was all right a week before; only the B2 exercises
    # (p_right 0.92) are not mastered. The schedule brings back an Easy one after 8 days, then after 66.
    assert cooldown.wasted >= 0.4 * cooldown.recommended
    assert schedule.wasted <= cooldown.wasted / 1.5


def test_the_schedule_policy_offers_what_select_exercises_offers_with_practice_replayed_from_the_attempts():
    learner = practice_simulation.make_learners(3, seed=5)[2]
    outcome = simulate(learner, SCHEDULE_POLICY, BANK, days=20, seed=5)

    assert len(outcome.offered) == 40
    for now, sub, offered in outcome.offered:
        practice = {
            exercise: scheduling.replay(before)[1]
            for exercise, attempts in outcome.attempts.items()
            if (before := [a for a in attempts if a[0] < now])
        }
        expected = select_exercises(BANK[sub], practice=practice, level=learner.level, limit=2, now=now)
        assert offered == [e["id"] for e in expected]
    assert any(len(attempts) > 1 for attempts in outcome.attempts.values())  # some were offered again


def test_the_cooldown_policy_rests_every_exercise_seven_days_whatever_its_score():
    learner = practice_simulation.make_learners(3, seed=5)[2]
    outcome = simulate(learner, COOLDOWN_POLICY, BANK, days=20, seed=5)

    for now, sub, offered in outcome.offered:
        practice = {
            exercise: Practice(before[-1][0], before[-1][0] + timedelta(days=7))
            for exercise, attempts in outcome.attempts.items()
            if (before := [a for a in attempts if a[0] < now])
        }
        expected = select_exercises(
            BANK[sub], practice=practice, level=learner.level, limit=2, now=now, cooldown_since=now - timedelta(days=7)
        )
        assert offered == [e["id"] for e in expected]
    gaps = [b[0] - a[0] for attempts in outcome.attempts.values() for a, b in pairwise(attempts)]
    assert gaps
    assert min(gaps) >= timedelta(days=7)


def test_a_short_run_gives_plausible_figures():
    rows = practice_simulation.evaluate(learners=6, seed=3, days=15)

    assert [row.policy for row in rows] == ["cooldown 7 d", "schedule from results"]
    for row in rows:
        assert 2 < row.errors_first < 12  # three weak pairs at up to 2.4 errors a day, nine others at a few tenths
        assert 0 < row.errors_last < row.errors_first  # practice helps
        assert row.recommended == 6 * 15 * 2 * 2
        assert 0 <= row.wasted <= row.recommended
        assert 0.5 < row.skill < 1
        assert 0.1 < row.weak_skill < row.skill


@pytest.mark.parametrize("option", [{"learners": 0}, {"days": 0}])
def test_it_refuses_an_empty_simulation(option):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("evaluate_ranking", **{"learners": 3, "days": 3, "part": "practice", **option}, stdout=StringIO())
