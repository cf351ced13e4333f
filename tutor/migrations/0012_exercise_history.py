"""Exercise history: every save and delete of an exercise is kept as a version (django-simple-history).

The exercises stored before this migration get a first version each, so that the first change a
curator makes can be compared with what was there and undone.
"""


import django.db.models.deletion
import django.utils.timezone
import simple_history.models
import uuid
from django.conf import settings
from django.db import migrations, models


def record_the_bank_as_it_is(apps, schema_editor):
    Exercise = apps.get_model("tutor", "Exercise")
    HistoricalExercise = apps.get_model("tutor", "HistoricalExercise")
    now = django.utils.timezone.now()
    fields = [field.attname for field in Exercise._meta.concrete_fields]
    HistoricalExercise.objects.bulk_create(
        (
            HistoricalExercise(
                history_date=now,
                history_type="+",
                history_change_reason="The exercise as it was when history began",
                **{name: getattr(exercise, name) for name in fields},
            )
            for exercise in Exercise.objects.iterator()
        ),
        batch_size=500,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('tutor', "0011_exercise_memory"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalExercise',
            fields=[
                ('errorCategory', models.PositiveSmallIntegerField(choices=[(1, 'Grammar'), (2, 'Vocabulary'), (3, 'Pronunciation'), (4, 'Fluency/Content')])),
                ('errorSubCategory', models.PositiveSmallIntegerField(choices=[(1, 'Pronoun'), (2, 'Adverb'), (3, 'Tense'), (4, 'Subject_Verb_Agreement'), (5, 'Wrong_Word'), (6, 'Apostrophe'), (7, 'Plural'), (8, 'Mispronounced_Syllable'), (9, 'Mispronounced_Word'), (10, 'Incoherent'), (11, 'Repetition'), (12, 'Lack_of_Content')])),
                ('id', models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ('title', models.CharField(max_length=200)),
                ('exercise_type', models.CharField(choices=[('gap_fill', 'Gap fill'), ('sentence_correction', 'Sentence correction'), ('multiple_choice', 'Multiple choice'), ('minimal_pairs', 'Minimal pairs'), ('repeat_after_me', 'Repeat after me'), ('speaking_prompt', 'Speaking prompt'), ('retelling', 'Retelling')], max_length=32)),
                ('level', models.CharField(choices=[('A1', 'A1'), ('A2', 'A2'), ('B1', 'B1'), ('B2', 'B2'), ('C1', 'C1'), ('C2', 'C2')], max_length=2)),
                ('instructions', models.TextField()),
                ('content', models.JSONField()),
                ('is_active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('history_change_reason', models.TextField(null=True)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical exercise',
                'verbose_name_plural': 'historical exercises',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.RunPython(record_the_bank_as_it_is, migrations.RunPython.noop),
    ]
