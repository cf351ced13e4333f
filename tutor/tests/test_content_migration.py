"""Migration 0007 rewrites a version 1 bank (the one this service shipped, in data/) to content version 2."""

import json
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tutor.exercise_content import content_errors, items_of

BEFORE = [("tutor", "0006_exercise_bank_version")]
AFTER = [("tutor", "0007_exercise_content_v2")]
V1_BANK = json.loads((Path(__file__).parent / "data" / "exercises-v1.json").read_text())


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def v1_bank(transactional_db):
    apps = migrate(BEFORE)
    Exercise = apps.get_model("tutor", "Exercise")
    Exercise.objects.bulk_create(
        Exercise(pk=row["pk"], **{k: v for k, v in row["fields"].items() if k not in ("created_at", "updated_at")})
        for row in V1_BANK
    )
    version = apps.get_model("tutor", "ExerciseBankVersion").objects.create().value
    yield version
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # every migration, for the tests that follow


def test_every_version_1_exercise_becomes_valid_version_2_content(v1_bank):
    apps = migrate(AFTER)
    stored = {str(e.pk): e for e in apps.get_model("tutor", "Exercise").objects.all()}

    assert len(stored) == len(V1_BANK)
    ids = []
    for row in V1_BANK:
        exercise = stored[row["pk"]]
        problems = content_errors(exercise.exercise_type, exercise.content)
        # Two-option multiple choice is the one thing a migration cannot invent: check_bank names it.
        assert all("is too short" in p and "['options']" in p for p in problems), (exercise.title, problems)
        ids += [item["id"] for _, item in items_of(exercise.content)]
        if exercise.errorSubCategory == 6:
            assert exercise.content["answer_mode"] != "spoken", exercise.title
    assert len(ids) == len(set(ids))
    assert apps.get_model("tutor", "ExerciseBankVersion").objects.get().value != v1_bank


def test_minimal_pairs_gain_a_listen_and_identify_step_over_their_own_pairs(v1_bank):
    apps = migrate(AFTER)
    v1 = {row["pk"]: row["fields"]["content"] for row in V1_BANK if row["fields"]["exercise_type"] == "minimal_pairs"}
    assert v1
    for pk, before in v1.items():
        after = apps.get_model("tutor", "Exercise").objects.get(pk=pk).content
        assert [pair["words"] for pair in after["pairs"]] == before["pairs"]
        assert [item["options"] for item in after["identify"]] == before["pairs"]
        answers = [item["options"].index(item["answer"]) for item in after["identify"]]
        assert max(answers.count(0), answers.count(1)) <= (len(answers) + 1) // 2
        assert all(item["audio"] == [] for _, item in items_of(after))


def test_the_migration_reverses_to_the_version_1_content(v1_bank):
    migrate(AFTER)
    apps = migrate(BEFORE)
    stored = {str(e.pk): e.content for e in apps.get_model("tutor", "Exercise").objects.all()}
    assert stored == {row["pk"]: row["fields"]["content"] for row in V1_BANK}
