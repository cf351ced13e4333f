"""Answers graded by the service: what changes the verdict and what does not, alone and through the API."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutor.exercise_content import accepted_answers
from tutor.grading import grade, keyed_items, readings
from tutor.models import ExerciseAttempt

BANK = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "exercises.json").read_text())
KEYED = [item for row in BANK for item in keyed_items(row["fields"]["content"]).values()]

CONTENT = {
    "answer_mode": "typed",
    "items": [
        {
            "id": "grading.1",
            "prompt": "I ___ here since 2019.",
            "answer": "have lived",
            "also_accepted": ["have been living"],
            "explanation": "Since + a point in time: present perfect.",
        },
        {"id": "grading.2", "prompt": "___ raining again.", "answer": "It's"},
        {"id": "grading.3", "prompt": "The dog wagged ___ tail.", "answer": "its"},
    ],
}
CHOICE = {
    "answer_mode": "choice",
    "items": [
        {"id": "choice.1", "question": "She ___ tea.", "options": ["like", "likes", "liking"], "answer": "likes"},
        {"id": "choice.2", "question": "They ___ tea.", "options": ["like", "likes", "liking"], "answer": "like"},
    ],
}


def same(given: str, key: str) -> bool:
    return not readings(given).isdisjoint(readings(key))


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("have lived", "have lived"),
        ("  Have   LIVED. ", "have lived"),
        ("I’m fine!", "I'm fine"),  # noqa: RUF001
        ("I am fine", "I'm fine"),
        ("It is raining", "It's raining"),
        ("It has rained", "It's rained"),
        ("They do not know", "They don't know"),
        ("I can't swim", "I cannot swim"),
        ("I can not swim", "I can't swim"),
        ("We won't go", "We will not go"),
        ("Yesterday they went home", "Yesterday, they went home."),
        ("I'd rather stay", "I would rather stay"),
        ("She’d left", "She had left"),  # noqa: RUF001
        ("cafe\u0301", "café"),  # é typed as e + a combining accent
        ("have\u200b lived", "have lived"),  # a zero-width space pasted in
        ("ｈａｖｅ lived", "have lived"),  # full-width letters  # noqa: RUF001
    ],
)
def test_what_does_not_change_the_verdict(given, key):
    assert same(given, key)


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("its", "it's"),
        ("Johns car", "John's car"),
        ("has lived", "have lived"),
        ("the childrens toys", "the children's toys"),
        ("passers by", "passers-by"),
        ("I will go", "I'd go"),
        ("", "have lived"),
    ],
)
def test_what_changes_the_verdict(given, key):
    assert not same(given, key)


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("First, tap Register.", "First, tap 'Register'."),
        ('First, tap "Register".', "First, tap 'Register'."),
        ("First, tap ‘Register’.", 'First, tap "Register".'),  # noqa: RUF001
        ("He said 'it is late'.", "He said 'it's late'."),
        ("He said 'I'm late'.", "He said 'I am late'."),
        ("'Don't go,' she said.", '"Do not go," she said.'),
    ],
)
def test_single_quotation_marks_are_set_aside_like_double_ones_and_keep_the_contractions_inside(given, key):
    assert same(given, key)


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("my grandparents house", "my grandparents' house"),
        ("the girls' coats", "the girl's coats"),
        ("He said 'its late'.", "He said 'it's late'."),
    ],
)
def test_an_apostrophe_that_is_no_quotation_mark_still_counts(given, key):
    assert not same(given, key)


@given(
    st.sampled_from(KEYED),
    st.sampled_from(["", " ", "  "]),
    st.sampled_from(["", ".", "!", "?", " ."]),
    st.sampled_from([str, str.upper, str.lower, str.title]),
)
def test_every_accepted_answer_of_the_bank_is_right_however_it_is_cased_spaced_or_ended(item, pad, end, case):
    if len({readings(option) for option in item.get("options", [])}) < len(item.get("options", [])):
        pad, end, case = "", "", str  # options that differ only in case (FOR-ty, for-TY) are told apart as written
    for answer in accepted_answers(item):
        result = grade({"items": [item]}, {item["id"]: f"{pad}{case(answer)}{end}{pad}"})
        assert result.score == 1, (item["id"], answer)


def test_every_distractor_of_the_bank_is_wrong():
    for item in KEYED:
        for option in item.get("options", []):
            if option != item["answer"]:
                assert grade({"items": [item]}, {item["id"]: option}).score == 0, (item["id"], option)


def test_options_that_differ_only_in_case_are_told_apart_as_written():
    item = {"id": "s.1", "question": "40?", "options": ["four-TEEN", "FOR-ty", "for-TY"], "answer": "FOR-ty"}
    assert grade({"items": [item]}, {"s.1": "FOR-ty"}).score == 1
    assert grade({"items": [item]}, {"s.1": "for-TY"}).score == 0
    assert grade({"items": [item]}, {"s.1": "for-ty"}).score == 0  # could be either
    assert grade({"items": [item]}, {"s.1": "FOUR-teen"}).score == 0


def test_the_score_is_the_share_of_keyed_items_right_and_unanswered_ones_are_wrong():
    result = grade(CONTENT, {"grading.1": "have been living", "grading.2": "It is"})
    assert [(v.id, v.correct) for v in result.items] == [("grading.1", True), ("grading.2", True), ("grading.3", False)]
    assert result.score == pytest.approx(2 / 3)
    assert result.items[0].expected == "have lived"
    assert result.items[0].explanation == "Since + a point in time: present perfect."
    assert result.items[2].explanation is None


@pytest.mark.django_db
class TestThroughTheApi:
    def attempt(self, api, exercise, user, **body):
        return api.post(
            "/api/exercise-attempts",
            {"user_id": str(user.pk), "exercise_id": str(exercise.pk), **body},
            format="json",
        )

    def test_answers_get_verdicts_per_item_and_a_score(self, api, make_exercise, user):
        exercise = make_exercise(content=CONTENT)
        response = self.attempt(api, exercise, user, answers={"grading.1": "have lived", "grading.3": "it's"})

        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["score"] == pytest.approx(1 / 3)
        assert body["items"] == [
            {
                "id": "grading.1",
                "correct": True,
                "expected": "have lived",
                "explanation": CONTENT["items"][0]["explanation"],
            },
            {"id": "grading.2", "correct": False, "expected": "It's", "explanation": None},
            {"id": "grading.3", "correct": False, "expected": "its", "explanation": None},
        ]
        stored = ExerciseAttempt.objects.get(pk=body["id"])
        assert (stored.score, stored.answers) == (
            pytest.approx(1 / 3),
            {"grading.1": "have lived", "grading.3": "it's"},
        )

    def test_a_choice_is_checked_against_its_key(self, api, make_exercise, user):
        exercise = make_exercise(exercise_type="multiple_choice", content=CHOICE)
        response = self.attempt(api, exercise, user, answers={"choice.1": "Likes", "choice.2": "likes"})
        assert response.status_code == 201
        assert [item["correct"] for item in response.json()["items"]] == [True, False]
        assert response.json()["score"] == 0.5

    def test_a_client_that_sends_a_score_and_no_answers_works_as_before(self, api, make_exercise, user):
        response = self.attempt(api, make_exercise(content=CONTENT), user, score=0.7)
        assert response.status_code == 201
        assert (response.json()["score"], response.json()["items"], response.json()["answers"]) == (0.7, None, None)

    @pytest.mark.parametrize(
        ("body", "field", "says"),
        [
            ({"answers": {"grading.9": "x"}}, "answers", "'grading.9': not keyed items of this exercise"),
            ({"answers": {}}, "answers", "empty"),
            ({"answers": {"grading.1": 3}}, "answers", "string"),
            ({"answers": ["have lived"]}, "answers", "dictionary"),
            ({"answers": {"grading.1": "have lived"}, "score": 1}, "score", "computed from answers"),
            ({"answers": {"grading.1": "x" * 1001}}, "answers", "1000"),
        ],
    )
    def test_bad_answers_are_refused_by_name(self, api, make_exercise, user, body, field, says):
        response = self.attempt(api, make_exercise(content=CONTENT), user, **body)
        assert response.status_code == 400
        assert says in json.dumps(response.json()[field]), response.json()
        assert not ExerciseAttempt.objects.exists()

    @pytest.mark.parametrize("score", [0.6, None])
    def test_answers_sent_as_null_say_none_beside_a_score(self, api, make_exercise, user, score):
        response = self.attempt(api, make_exercise(content=CONTENT), user, answers=None, score=score)
        assert response.status_code == 201, response.json()
        assert (response.json()["score"], response.json()["answers"], response.json()["items"]) == (score, None, None)

    def test_an_attempt_dated_in_the_future_is_refused_in_its_own_words(self, api, make_exercise, user):
        response = self.attempt(api, make_exercise(content=CONTENT), user, score=1, completed_at="2999-01-01T00:00:00Z")
        assert response.status_code == 400
        assert response.json()["completed_at"] == [
            "completed_at is 300 s or more in the future; send when it happened."
        ], response.json()

    def test_an_open_task_takes_no_answers(self, api, make_exercise, user):
        speaking = make_exercise(
            exercise_type="speaking_prompt", content={"answer_mode": "spoken", "prompt": "Talk about your town."}
        )
        response = self.attempt(api, speaking, user, answers={"x": "I live in Rome."})
        assert response.status_code == 400
        assert "no items with a key" in response.json()["answers"][0]
        assert self.attempt(api, speaking, user, score=0.6).status_code == 201
