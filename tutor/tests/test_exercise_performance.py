import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tutor.exercise_performance import FAIL_BELOW, FLAG_MARGIN, FLAG_MIN_SCORED_ATTEMPTS, with_performance
from tutor.models import Exercise, ExerciseAttempt
from tutor.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/tutor/exercise/"
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def attempt(exercise, *scores, user=None, day=0):
    """Store one attempt per score, a learner of their own each unless `user` is given, an hour apart."""
    for n, score in enumerate(scores):
        ExerciseAttempt.objects.create(
            user=user or UserFactory(),
            exercise=exercise,
            score=score,
            completed_at=START + timedelta(days=day, hours=n),
        )


def column(admin_client, name: str) -> int:
    """The list's column of a figure, as the `o` parameter counts them."""
    return admin_client.get(LIST).context["cl"].list_display.index(name)


def listed(admin_client, **params) -> list[Exercise]:
    return list(admin_client.get(LIST, params).context["cl"].result_list)


@pytest.fixture
def made_up(make_exercise):
    """Exercises at B1 with attempts worked out by hand, nulls included, and one nobody did."""
    tried = make_exercise(title="Tried")
    only_unscored = make_exercise(title="Only unscored")
    untouched = make_exercise(title="Untouched")
    ada, bob = UserFactory(), UserFactory()
    attempt(tried, 0.2, 0.4, user=ada)
    attempt(tried, 0.9, user=bob, day=1)
    attempt(tried, None, day=2)
    attempt(tried, 0.5, user=bob, day=-1)
    attempt(only_unscored, None, None, user=ada)
    return {"tried": tried, "only_unscored": only_unscored, "untouched": untouched}


def test_the_figures_of_an_exercise_are_the_ones_worked_out_by_hand(made_up):
    figures = {e.title: e for e in with_performance(Exercise.objects.all())}

    tried = figures["Tried"]
    assert (tried.attempt_count, tried.learner_count, tried.scored_count) == (5, 3, 4)
    assert tried.average_score == pytest.approx((0.2 + 0.4 + 0.9 + 0.5) / 4)
    assert tried.fail_share == pytest.approx(2 / 4), "0.5 itself is not below 0.5; the null score counts in neither"
    assert tried.last_done == START + timedelta(days=2), "an attempt without a score was still done"
    unscored = figures["Only unscored"]
    assert (unscored.attempt_count, unscored.learner_count, unscored.scored_count) == (2, 1, 0)
    assert (unscored.average_score, unscored.fail_share, unscored.last_done) == (None, None, START + timedelta(hours=1))
    untouched = figures["Untouched"]
    assert (untouched.attempt_count, untouched.learner_count, untouched.average_score) == (0, 0, None)
    assert (untouched.fail_share, untouched.last_done, untouched.fails_far_more) == (None, None, False)


def test_the_list_and_the_change_page_show_the_figures(admin_client, made_up):
    row = admin_client.get(LIST, {"q": "Tried"}).content.decode()
    page = admin_client.get(f"{LIST}{made_up['tried'].pk}/change/").content.decode()
    empty = admin_client.get(f"{LIST}{made_up['untouched'].pk}/change/").content.decode()

    for html in (row, page):
        assert '<td class="field-attempt_count">5</td>' in html or '<div class="readonly">5</div>' in html
        assert "0.50" in html
        assert "50% of 4" in html
        assert "March 3, 2025, 9 a.m." in html
    assert "How learners do" in page
    assert f"At least {FLAG_MIN_SCORED_ATTEMPTS} scored attempts" in page
    assert "How learners do" in empty
    assert "How learners do" not in admin_client.get(f"{LIST}add/").content.decode()


@pytest.fixture
def levels(make_exercise):
    """Exercises whose flag is known: only `at the margin` fails far more than its level.

    B1 shares 10 of 40 scored attempts below 0.5 (0.25); C1 fails everywhere (0.7), so its 0.8 is
    ordinary there; B2's 9 fails out of 9 scored are too few to judge, whatever its nulls add.
    """
    assert (FAIL_BELOW, FLAG_MARGIN, FLAG_MIN_SCORED_ATTEMPTS) == (0.5, 0.25, 10), "the cases below are built on these"
    built = {}

    def exercise(title, level, fails, passes, unscored=0):
        built[title] = make_exercise(title=title, level=level)
        attempt(built[title], *[0.1] * fails, *[0.8] * passes, *[None] * unscored)

    exercise("at the margin", "B1", fails=5, passes=5)
    exercise("easy B1", "B1", fails=5, passes=25)
    exercise("too few scored", "B2", fails=9, passes=0, unscored=3)
    exercise("easy B2", "B2", fails=0, passes=41)
    exercise("hard like its level", "C1", fails=8, passes=2)
    exercise("hard C1", "C1", fails=6, passes=4)
    exercise("nobody did it", "C1", fails=0, passes=0)
    return built


def test_only_an_exercise_failed_far_more_than_its_level_is_flagged(levels):
    flagged = {e.title for e in with_performance(Exercise.objects.all()) if e.fails_far_more}

    assert flagged == {"at the margin"}


def test_one_more_failure_in_the_level_takes_the_flag_away(levels):
    attempt(levels["easy B1"], 0.49)

    assert not with_performance(Exercise.objects.filter(title="at the margin")).get().fails_far_more


def test_the_filter_lists_the_exercises_that_fail_far_more_than_their_level(admin_client, levels):
    assert [e.title for e in listed(admin_client, fails_far_more="yes")] == ["at the margin"]
    assert len(listed(admin_client, fails_far_more="no")) == len(levels) - 1
    assert len(listed(admin_client)) == len(levels)


def test_an_action_applies_to_the_exercises_the_filter_chose(admin_client, levels):
    response = admin_client.post(
        f"{LIST}?fails_far_more=yes",
        {"action": "deactivate", "_selected_action": [str(e.pk) for e in levels.values()]},
    )

    assert response.status_code == 302
    assert list(Exercise.objects.filter(is_active=False).values_list("title", flat=True)) == ["at the margin"]


@pytest.mark.parametrize(
    ("name", "first_down", "first_up"),
    [
        ("attempt_count", "easy B2", "nobody did it"),
        ("learner_count", "easy B2", "nobody did it"),
        ("average_score", "easy B2", "too few scored"),
        ("fail_share", "too few scored", "easy B2"),
        ("fails_far_more", "at the margin", None),
    ],
)
def test_the_list_sorts_by_each_figure_with_the_empty_ones_last(admin_client, levels, name, first_down, first_up):
    for direction, first in (("-", first_down), ("", first_up)):
        rows = listed(admin_client, o=f"{direction}{column(admin_client, name)}")
        values = [getattr(e, name) for e in rows]
        known = [value for value in values if value is not None]

        assert values == known + [None] * (len(values) - len(known))
        assert known == sorted(known, reverse=direction == "-")
        assert first is None or rows[0].title == first


def test_the_list_sorts_by_last_done_with_the_never_done_last(admin_client, made_up):
    index = column(admin_client, "last_done")

    assert [e.title for e in listed(admin_client, o=f"-{index}")] == ["Tried", "Only unscored", "Untouched"]
    assert [e.title for e in listed(admin_client, o=str(index))] == ["Only unscored", "Tried", "Untouched"]


def test_the_list_links_to_the_exercises_learners_fail_most_first(admin_client, levels):
    html = admin_client.get(LIST, {"level__exact": "C1"}).content.decode()
    link = unescape(re.search(r'id="most-failed-link" href="([^"]+)"', html)[1])

    assert [e.title for e in admin_client.get(LIST + link).context["cl"].result_list] == [
        "hard like its level",
        "hard C1",
        "nobody did it",
    ], "sorted by the share below 0.5, within the filter already chosen"
    assert listed(admin_client, o=f"-{column(admin_client, 'fail_share')}")[0].title == "too few scored"


def test_the_number_of_queries_of_the_list_does_not_grow_with_the_exercises(admin_client, make_exercise):
    def queries_of_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST).status_code == 200
        return len(queries)

    first = make_exercise()
    attempt(first, 0.3, 0.7)
    few = queries_of_the_list()
    for exercise in make_exercise.create_batch(30):
        attempt(exercise, 0.1, None, 0.9)

    assert queries_of_the_list() == few
    assert len(listed(admin_client)) == 31
