"""The quick paths for plain events and queries accept nothing the serializers refuse, with the same results."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tutor.scoring import MODES
from tutor.serializers import ErrorEventSerializer, GenerateExerciseQuery, plain_event, plain_query
from tutor.taxonomy import CATEGORY_OF

KNOWN = "dcc44822-4b8d-43cf-be83-fb510ea07bae"
values = st.one_of(
    st.integers(min_value=-2, max_value=14),
    st.sampled_from(["1", "3", "", "x", KNOWN, KNOWN.upper(), KNOWN.replace("-", ""), "3.0"]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
    st.uuids().map(str),
)
times = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC, None])
    ).map(lambda d: d.isoformat()),
    st.just((datetime.now(UTC) + timedelta(hours=1)).isoformat()),
    st.just((datetime.now(UTC) - timedelta(hours=1)).isoformat()),
    st.just("2026-13-01T00:00:00Z"),
)
codes = st.one_of(st.integers(0, 13), values)
pairs = st.one_of(st.integers(1, 12).map(lambda sub: (int(CATEGORY_OF[sub]), sub)), st.tuples(codes, codes))
rest = st.fixed_dictionaries(
    {"user_id": st.one_of(st.just(KNOWN), st.uuids().map(str), values)},
    optional={
        "event_id": st.one_of(st.uuids().map(str), values),
        "timestamp_utc": st.one_of(times, values),
        "extra": values,
    },
)
items = st.builds(lambda pair, fields: {"errorCategory": pair[0], "errorSubCategory": pair[1], **fields}, pairs, rest)


@pytest.mark.django_db
@settings(max_examples=500, deadline=None, derandomize=True)
@given(items)
@example({"user_id": KNOWN, "errorCategory": 1, "errorSubCategory": 3, "timestamp_utc": "2999-01-01T00:00:00+00:00"})
@example({"user_id": KNOWN, "errorCategory": 2, "errorSubCategory": 3})
@example(
    {"user_id": KNOWN.upper(), "errorCategory": 3, "errorSubCategory": 9, "timestamp_utc": "2026-01-01T00:00:00-21:41"}
)
def test_the_quick_path_agrees_with_the_serializer(item):
    assert_agree(plain_event(item), ErrorEventSerializer(data=item))


def assert_agree(quick: dict | None, serializer) -> None:
    """Whatever the quick path accepts, the serializer accepts too, with the same result."""
    if quick is not None:
        assert serializer.is_valid(), (serializer.initial_data, serializer.errors)
        assert dict(serializer.validated_data) == quick


def test_the_quick_path_takes_a_plain_event():
    event_id = str(uuid.uuid4())
    item = {"event_id": event_id, "user_id": KNOWN, "errorCategory": 3, "errorSubCategory": 9}

    assert plain_event(item) == {
        "event_id": uuid.UUID(event_id),
        "user_id": uuid.UUID(KNOWN),
        "errorCategory": 3,
        "errorSubCategory": 9,
    }


query_values = st.one_of(
    st.integers(min_value=-2, max_value=400).map(str),
    st.sampled_from(["", "0", "007", "+3", " 3", "3 ", "3.0", "1e2", "٣", "²", "9" * 7, "Count", *MODES]),
    st.sampled_from([KNOWN, KNOWN.upper(), KNOWN.replace("-", ""), "{" + KNOWN + "}", "urn:uuid:" + KNOWN]),
    st.text(max_size=8),
)
query_names = st.sampled_from(
    [
        "user_id",
        "top_n_errors",
        "last_n_days",
        "exercises_per_error",
        "ranking",
        "half_life_days",
        "cooldown_days",
        "other",
    ]
)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.dictionaries(query_names, query_values))
@example({"user_id": KNOWN, "top_n_errors": "3", "last_n_days": "7"})
@example({"user_id": KNOWN, "ranking": "decay", "half_life_days": "90", "cooldown_days": "0"})
@example({"user_id": KNOWN, "top_n_errors": "٣"})
def test_the_quick_query_path_agrees_with_the_serializer(params):
    assert_agree(plain_query(params), GenerateExerciseQuery(data=params))


def test_the_quick_query_path_takes_the_usual_query():
    assert plain_query({"user_id": KNOWN, "top_n_errors": "3", "last_n_days": "7"}) == {
        "user_id": uuid.UUID(KNOWN),
        "top_n_errors": 3,
        "last_n_days": 7,
        "exercises_per_error": 3,
        "ranking": "count",
        "half_life_days": 7,
    }
