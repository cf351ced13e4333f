"""Ranking modes: each registered mode is accepted, documented and ranks as it says, warm or cold."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tutor import buffer, exercise_bank, ingest, ranking, scoring
from tutor.buffer import Event
from tutor.scoring import Mode
from tutor.serializers import GENERATE_QUERY, GenerateExerciseQuery, plain_query
from tutor.stored_rows import Rows

pytestmark = pytest.mark.django_db
URL = "/api/generate-exercise"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def top(user, **params):
    return [
        (t["errorSubCategory"], t["errorFrequency"], t["score"])
        for t in ranking.recommend(user_id=user.pk, **params)["top_errors"]
    ]


def test_recent_counts_only_the_errors_of_the_last_three_days(user, make_error):
    make_error.create_batch(4, user=user, errorSubCategory=9, days_ago=10)
    make_error.create_batch(2, user=user, errorSubCategory=3, days_ago=1)
    make_error(user=user, errorSubCategory=3, days_ago=5)
    make_error(user=user, errorSubCategory=1, days_ago=2.9)

    expected = [("Tense", 3, 2), ("Pronoun", 1, 1), ("Mispronounced_Word", 4, 0)]
    assert top(user, ranking="recent") == expected  # cold: from PostgreSQL
    assert top(user, ranking="recent") == expected  # warm: from the rows kept with the learner
    assert top(user, ranking="recent", last_n_days=7) == expected[:2]


def test_recent_counts_events_still_in_the_buffer(user, make_error):
    make_error.create_batch(2, user=user, errorSubCategory=3, days_ago=1)
    assert top(user, ranking="recent") == [("Tense", 2, 2)]  # the rows are now kept

    now = timezone.now()
    ingest.accept_events(
        [Event(uuid.uuid4(), user.pk, 3, 9, now - timedelta(days=age)) for age in (0, 0, 0, 4)]  # one too old
    )

    assert top(user, ranking="recent") == [("Mispronounced_Word", 4, 3), ("Tense", 2, 2)]


@pytest.mark.parametrize("mode", list(scoring.MODES))
def test_every_mode_is_accepted_and_documented(mode):
    query = {"user_id": str(uuid.uuid4()), "ranking": mode}

    assert plain_query(query)["ranking"] == mode
    assert GenerateExerciseQuery(data=query).is_valid()
    assert f"{mode}: " in GENERATE_QUERY.fields["ranking"].help_text  # the OpenAPI description
    allowed = next(line for line in README.splitlines() if line.startswith("| `ranking` |"))
    assert f"`{mode}`" in allowed, "the README's API table lists every ranking mode"


def test_an_unknown_mode_is_refused_naming_the_modes(api, user):
    response = api.get(URL, {"user_id": user.pk, "ranking": "popular"})

    assert response.status_code == 400
    assert response.json() == {"ranking": [f"ranking must be one of: {', '.join(scoring.MODES)}."]}


@pytest.fixture
def oldest_first():
    """A mode added for one test, as a newcomer would: pairs by the age of their oldest error, in days."""
    mode = scoring.register(
        Mode(
            name="oldest",
            rows=Rows.TIMES,
            score=lambda pair, now, params: (now - min(pair.times)) / 86_400e6,
            whole=False,
            help="the age of the pair's oldest error in the window, in days.",
        )
    )
    yield mode
    del scoring.MODES[mode.name]


def test_a_mode_added_to_the_registry_is_accepted_and_ranks_as_defined(
    api, user, make_error, oldest_first, settings, django_assert_num_queries
):
    make_error.create_batch(3, user=user, errorSubCategory=3, days_ago=1)
    make_error(user=user, errorSubCategory=9, days_ago=5)
    query = {"user_id": str(user.pk), "ranking": "oldest"}
    assert plain_query(query)["ranking"] == "oldest"
    assert GenerateExerciseQuery(data=query).is_valid()
    exercise_bank.active_by_subcategory(buffer.snapshot(user.pk).bank_version)  # loaded once per process

    with django_assert_num_queries(1):  # cold: the rows the mode reads, with the learner, in one statement
        cold = top(user, ranking="oldest")
    with django_assert_num_queries(0):  # warm: the rows kept with the learner
        assert top(user, ranking="oldest") == cold
    assert cold == [("Mispronounced_Word", 1, 5.0), ("Tense", 3, 1.0)]

    ingest.accept_events([Event(uuid.uuid4(), user.pk, 4, 12, timezone.now() - timedelta(days=8))])
    assert top(user, ranking="oldest") == [("Lack_of_Content", 1, 8.0), *cold]  # pending events count

    response = api.get(URL, {**query, "top_n_errors": 1})
    assert response.status_code == 200
    assert response.json()["top_errors"][0]["score"] == 8.0

    settings.EVENT_BUFFER_URL = ""  # without a buffer: the ORM reader
    assert top(user, ranking="oldest") == cold
