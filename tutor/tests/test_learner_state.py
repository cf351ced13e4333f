"""What is kept of a learner is read only in its own format: anything else is computed again, never misread."""

import orjson
import pytest

from tutor import buffer, learner_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("buffer_backend")]
URL = "/api/generate-exercise"


def forged(snap: buffer.Snapshot, kind: str) -> bytes:
    """Return a payload that would give a wrong answer if it were read: its counts and answer are made up."""
    kept = orjson.loads(snap.state.partition(b"\0")[0])
    for window in kept["windows"].values():
        for pair in window["pairs"]:
            pair["count"] = 999
    if kind == "another format":
        head = {**kept, "format": learner_state.FORMAT + 1}
    elif kind == "the layout before formats":
        head = {
            "label": [snap.generation, snap.version],
            "rows": {"0:0": [kept["answer"]["until"], [[3, 999, 0]]]},
            "profile": [kept["profile"]["until"], None, []],
            "answer": [kept["answer"]["query"], kept["answer"]["until"]],
        }
    else:
        return b'{"format": 1, "generation": \xff' + b"\0" + b'{"forged": true}'
    return orjson.dumps(head) + b"\0" + b'{"forged": true}'


@pytest.mark.parametrize("kind", ["another format", "the layout before formats", "unreadable"])
def test_a_kept_state_of_another_format_is_computed_again(api, user, make_error, kind, django_assert_num_queries):
    make_error.create_batch(2, user=user, errorSubCategory=3)
    answer = api.get(URL, {"user_id": user.pk}).content  # the state and the answer are now kept
    buffer.keep_state(user.pk, forged(buffer.snapshot(user.pk), kind), seconds=60)

    with django_assert_num_queries(1):  # the learner and their rows, from PostgreSQL
        response = api.get(URL, {"user_id": user.pk})

    assert response.content == answer
    assert response.json()["top_errors"][0]["errorFrequency"] == 2
    kept = orjson.loads(buffer.snapshot(user.pk).state.partition(b"\0")[0])
    assert kept["format"] == learner_state.FORMAT  # kept again, in this release's format


def test_what_is_kept_reads_back_as_it_was_computed(api, user, make_error):
    make_error.create_batch(2, user=user, errorSubCategory=3)
    api.get(URL, {"user_id": user.pk, "ranking": "decay"})

    state = learner_state.read(buffer.snapshot(user.pk))

    (window,) = state.windows.values()
    (pair,) = window.pairs
    assert (pair.subcategory, pair.count, len(pair.times)) == (3, 2, 2)
    assert state.profile.level is None
    assert state.answer is not None
