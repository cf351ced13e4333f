"""Give every (learner, exercise) that already has attempts its memory, as the attempts signal would.

Without it, exercises done before the schedule existed would be offered as new. Learners' kept states of
the earlier format are ignored on reading (tutor.learner_state.FORMAT), so no reader keeps the old rests.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from tutor.scheduling import replay

    Attempt = apps.get_model("tutor", "ExerciseAttempt")
    Memory = apps.get_model("tutor", "ExerciseMemory")
    done = set(Memory.objects.values_list("user_id", "exercise_id"))
    attempts = Attempt.objects.order_by("user_id", "exercise_id", "completed_at", "id")
    pair, history, memories = None, [], []

    def remember():
        if pair is not None and pair not in done:
            card, practice = replay(history)
            memories.append(
                Memory(user_id=pair[0], exercise_id=pair[1], card=card.to_dict(), last_done=practice.last_done, due=practice.due)
            )

    for user_id, exercise_id, completed_at, score in attempts.values_list(
        "user_id", "exercise_id", "completed_at", "score"
    ).iterator(chunk_size=2000):
        if (user_id, exercise_id) != pair:
            remember()
            pair, history = (user_id, exercise_id), []
        history.append((completed_at, score))
    remember()
    Memory.objects.bulk_create(memories, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("tutor", "0012_exercise_history")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
