"""The shipped bank passes `check_bank`, and a copy broken in each way the lint knows fails it by that rule."""

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tutor.bank_lint import PACE_WPM, BankExercise, lint
from tutor.exercise_content import items_of
from tutor.models import Exercise
from tutor.taxonomy import CEFRLevel, ErrorSubCategory

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "exercises.json"
ROWS = json.loads(FIXTURE.read_text())


def bank(rows: list[dict]) -> list[BankExercise]:
    return [
        BankExercise(
            r["pk"],
            r["fields"]["title"],
            r["fields"]["errorSubCategory"],
            r["fields"]["exercise_type"],
            r["fields"]["level"],
            r["fields"]["is_active"],
            r["fields"]["content"],
        )
        for r in rows
    ]


def first(rows: list[dict], test: Callable[[dict], bool]) -> dict:
    return next(r["fields"] for r in rows if test(r["fields"]))


def of_type(kind: str) -> Callable[[dict], bool]:
    return lambda fields: fields["exercise_type"] == kind


def first_item(rows: list[dict], test: Callable[[dict], bool]) -> dict:
    return next(item for r in rows for _, item in items_of(r["fields"]["content"]) if test(item))


def break_schema(rows):
    del first(rows, of_type("gap_fill"))["content"]["answer_mode"]


def break_key(rows):
    first_item(rows, lambda item: "options" in item)["answer"] = "an answer that is not offered"


def break_options(rows):
    item = first_item(rows, lambda item: len(item.get("options", [])) >= 3)
    item["options"] = [item["answer"], next(o for o in item["options"] if o != item["answer"])]


def break_accepted_distractor(rows):
    item = first_item(rows, lambda item: "prompt" in item)
    item["options"] = [item["answer"], "wrong one", "wrong two"]
    item["also_accepted"] = ["Wrong one"]


def break_duplicate_item_text(rows):
    one, other = [r["fields"]["content"]["items"][0] for r in rows if r["fields"]["exercise_type"] == "gap_fill"][:2]
    other["prompt"] = one["prompt"].upper()


def break_duplicate_item_id(rows):
    one, other = [r["fields"]["content"]["items"][0] for r in rows if "items" in r["fields"]["content"]][:2]
    other["id"] = one["id"]


def break_duplicate_title(rows):
    rows[1]["fields"]["title"] = rows[0]["fields"]["title"]


def break_key_position(rows):
    """Every multiple-choice key in the first option: each exercise and the type as a whole lean one way."""
    for r in rows:
        if r["fields"]["exercise_type"] == "multiple_choice":
            for item in r["fields"]["content"]["items"]:
                item["options"].remove(item["answer"])
                item["options"].insert(0, item["answer"])


def break_thin_cell(rows):
    cell = [r for r in rows if (r["fields"]["errorSubCategory"], r["fields"]["level"]) == (3, "B2")]
    for r in cell[4:]:
        r["fields"]["is_active"] = False


def break_empty_cell(rows):
    for r in rows:
        if (r["fields"]["errorSubCategory"], r["fields"]["level"]) == (9, "C2"):
            r["fields"]["is_active"] = False


def break_one_type_cell(rows):
    cell = [r for r in rows if (r["fields"]["errorSubCategory"], r["fields"]["level"]) == (1, "A1")]
    kind = cell[0]["fields"]["exercise_type"]
    for r in cell:
        if r["fields"]["exercise_type"] != kind:
            r["fields"]["is_active"] = False
    for n in range(5):
        twin = copy.deepcopy(cell[0])
        twin["pk"] = f"{cell[0]['pk'][:-2]}{n:02d}"
        rows.append(twin)


def break_pace(rows):
    fields = first(rows, lambda f: "model_answer" in f["content"] and "duration_seconds" in f["content"])
    fields["content"]["duration_seconds"] = 10


def break_untimed_model_answer(rows):
    del first(rows, lambda f: "model_answer" in f["content"] and "duration_seconds" in f["content"])["content"][
        "duration_seconds"
    ]


def break_ipa(rows):
    first_item(rows, lambda item: isinstance(item.get("ipa"), str))["ipa"] = "/ˈwɔːtɐ/"  # noqa: RUF001


def break_stress(rows):
    entry = first_item(rows, lambda item: any(len(e["syllables"]) > 1 for e in item.get("stress", [])))
    word = next(e for e in entry["stress"] if len(e["syllables"]) > 1)
    word["stressed"] = (word["stressed"] + 1) % len(word["syllables"])


def break_spoken_apostrophe(rows):
    first(rows, lambda f: f["errorSubCategory"] == ErrorSubCategory.APOSTROPHE)["content"]["answer_mode"] = "spoken"


BREAKAGES = {
    "schema": break_schema,
    "key": break_key,
    "options": break_options,
    "accepted-distractor": break_accepted_distractor,
    "duplicate-item-text": break_duplicate_item_text,
    "duplicate-item-id": break_duplicate_item_id,
    "duplicate-title": break_duplicate_title,
    "key-position": break_key_position,
    "thin-cell": break_thin_cell,
    "empty-cell": break_empty_cell,
    "one-type-cell": break_one_type_cell,
    "pace": break_pace,
    "ipa": break_ipa,
    "stress": break_stress,
    "spoken-apostrophe": break_spoken_apostrophe,
}


def test_the_shipped_bank_passes_every_rule():
    assert [str(p) for p in lint(bank(ROWS))] == []


def test_every_cell_from_a1_to_c2_holds_five_active_exercises_of_two_types():
    for sub in ErrorSubCategory.values:
        for level in CEFRLevel.values:
            cell = [
                r["fields"] for r in ROWS if (r["fields"]["errorSubCategory"], r["fields"]["level"]) == (sub, level)
            ]
            active = [f for f in cell if f["is_active"]]
            assert len(active) >= 5, (sub, level)
            assert len({f["exercise_type"] for f in active}) >= 2, (sub, level)
    assert len(ROWS) >= 360


@pytest.mark.parametrize("rule", sorted(BREAKAGES))
def test_a_copy_broken_against_one_rule_fails_by_that_rule(rule):
    rows = copy.deepcopy(ROWS)
    BREAKAGES[rule](rows)
    assert rows != ROWS
    assert rule in {problem.rule for problem in lint(bank(rows))}


def test_a_model_answer_without_its_duration_cannot_be_paced():
    rows = copy.deepcopy(ROWS)
    break_untimed_model_answer(rows)
    paced = [p.message for p in lint(bank(rows)) if p.rule == "pace"]
    assert paced == ["a model answer needs duration_seconds to be paced"]


def test_pace_ranges_widen_with_the_level():
    ranges = [PACE_WPM[level] for level in CEFRLevel.values]
    assert ranges == sorted(ranges)


def test_the_command_reads_a_fixture_file_and_names_each_broken_rule(tmp_path, capsys):
    call_command("check_bank", fixture=FIXTURE)
    assert "passes every rule" in capsys.readouterr().out

    rows = copy.deepcopy(ROWS)
    break_key(rows)
    break_stress(rows)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(rows))
    with pytest.raises(CommandError, match="2 problems"):
        call_command("check_bank", fixture=broken)
    said = capsys.readouterr().err
    assert "[key]" in said
    assert "[stress]" in said


def test_the_command_limits_itself_to_the_subcategories_asked_for(tmp_path, capsys):
    rows = copy.deepcopy(ROWS)
    break_empty_cell(rows)  # Mispronounced_Word C2
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(rows))

    call_command("check_bank", fixture=broken, subcategory=[1, 2])
    with pytest.raises(CommandError):
        call_command("check_bank", fixture=broken, subcategory=[ErrorSubCategory.MISPRONOUNCED_WORD])
    assert "[empty-cell] Mispronounced_Word C2" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_command_checks_the_bank_curators_edit_in_the_database(capsys):
    call_command("loaddata", str(FIXTURE), verbosity=0)
    call_command("check_bank")
    assert f"{len(ROWS)} exercises" in capsys.readouterr().out

    Exercise.objects.filter(errorSubCategory=ErrorSubCategory.TENSE, level="C2").update(is_active=False)
    with pytest.raises(CommandError):
        call_command("check_bank")
    assert "[empty-cell] Tense C2" in capsys.readouterr().err
