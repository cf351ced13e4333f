"""Exercise content, version 2: item ids, answer modes, recordings and a listen-and-identify step.

Every stored exercise is rewritten in place:
- each item gets an id unique in the bank, `x<first 12 hex digits of the exercise's id>.<n>`;
- the content says how the learner answers: multiple choice by `choice`, apostrophe work `typed`
  (an apostrophe cannot be heard), everything else `spoken`, as the version 1 instructions asked;
- pronunciation items list their recordings (`"audio": []`: none exists yet);
- a minimal-pairs exercise's pairs become objects, and each pair gives a listen-and-identify item
  whose answer alternates between the two words;
- the bank's version changes, so that no cache keeps serving version 1 content.
Multiple-choice items with two options stay as they are: `manage.py check_bank` names them for a curator.
The reverse drops what version 1 cannot hold.
"""

import uuid

from django.db import migrations

APOSTROPHE = 6
PRONUNCIATION_TYPES = ("repeat_after_me", "minimal_pairs")
ITEM_STEPS = ("items", "identify", "pairs", "sentences")


def to_v2(exercise_type: str, subcategory: int, content: dict, prefix: str) -> dict:
    if "answer_mode" in content:
        return content  # Written by version 2 already.
    numbers = iter(range(1, 10_000))

    def new_id() -> str:
        return f"{prefix}.{next(numbers)}"

    mode = "choice" if exercise_type == "multiple_choice" else "typed" if subcategory == APOSTROPHE else "spoken"
    content = {"answer_mode": mode, **content}
    if exercise_type == "minimal_pairs":
        pairs = content.pop("pairs")
        sentences = content.pop("sentences", [])
        content["identify"] = [
            {"id": new_id(), "answer_mode": "choice", "options": list(pair), "answer": pair[index % 2], "audio": []}
            for index, pair in enumerate(pairs)
        ]
        content["pairs"] = [{"id": new_id(), "words": list(pair), "audio": []} for pair in pairs]
        if sentences:
            content["sentences"] = [{"id": new_id(), "text": text, "audio": []} for text in sentences]
        return content
    audio = {"audio": []} if exercise_type in PRONUNCIATION_TYPES else {}
    if "items" in content:
        content["items"] = [{"id": new_id(), **item, **audio} for item in content["items"]]
    return content


def to_v1(exercise_type: str, content: dict) -> dict:
    if "answer_mode" not in content:
        return content
    content = {key: value for key, value in content.items() if key not in ("answer_mode", "identify")}
    if exercise_type == "minimal_pairs":
        content["pairs"] = [pair["words"] for pair in content["pairs"]]
        if "sentences" in content:
            content["sentences"] = [sentence["text"] for sentence in content["sentences"]]
        return content
    if "items" in content:
        dropped = ("id", "answer_mode", "audio", "ipa", "stress", "feedback", "options", "also_accepted")
        content["items"] = [
            {key: value for key, value in item.items() if key not in dropped or _kept_in_v1(exercise_type, key)}
            for item in content["items"]
        ]
    return content


def _kept_in_v1(exercise_type: str, key: str) -> bool:
    return (key == "options" and exercise_type == "multiple_choice") or (
        key == "also_accepted" and exercise_type == "gap_fill"
    )


def forward(apps, schema_editor):
    rewrite(apps, lambda e: to_v2(e.exercise_type, e.errorSubCategory, e.content, f"x{e.pk.hex[:12]}"))


def backward(apps, schema_editor):
    rewrite(apps, lambda e: to_v1(e.exercise_type, e.content))


def rewrite(apps, convert):
    Exercise = apps.get_model("tutor", "Exercise")
    changed = []
    for exercise in Exercise.objects.all().iterator(chunk_size=500):
        content = convert(exercise)
        if content != exercise.content:
            exercise.content = content
            changed.append(exercise)
    Exercise.objects.bulk_update(changed, ["content"], batch_size=500)
    if changed:
        apps.get_model("tutor", "ExerciseBankVersion").objects.update(value=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("tutor", "0006_exercise_bank_version")]

    operations = [migrations.RunPython(forward, backward)]
