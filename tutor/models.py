import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from simple_history.models import HistoricalRecords

from tutor.audio_files import validate_audio
from tutor.exercise_content import ACCENT_NAMES, ITEM_ID_MAX_LENGTH, content_errors, items_of
from tutor.taxonomy import CEFRLevel, ErrorCategory, ErrorSubCategory, ExerciseType, pair_check, pair_error


class User(models.Model):
    """A learner profile (not a login: API clients authenticate separately)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=50, unique=True)
    email = models.EmailField(max_length=100, unique=True)
    first_name = models.CharField(max_length=50)
    last_name = models.CharField(max_length=50)
    level = models.CharField(  # noqa: DJ001 -- NULL means "not assessed", which is not the same as a level
        max_length=2, choices=CEFRLevel.choices, null=True, blank=True, help_text="CEFR level; empty = start easy."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["username"]
        verbose_name = "learner"  # the staff accounts that sign in to the admin are django.contrib.auth's users

    def __str__(self) -> str:
        return f"{self.username} <{self.email}>"


class ErrorPair(models.Model):
    """An (errorCategory, errorSubCategory) pair whose subcategory belongs to its category."""

    errorCategory = models.PositiveSmallIntegerField(choices=ErrorCategory.choices)
    errorSubCategory = models.PositiveSmallIntegerField(choices=ErrorSubCategory.choices)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(condition=pair_check(), name="%(app_label)s_%(class)s_pair_matches"),
        ]

    def clean(self) -> None:
        super().clean()
        problem = pair_error(self.errorCategory, self.errorSubCategory)
        if problem:
            raise ValidationError({"errorSubCategory": problem})


class Error(ErrorPair):
    """One error a learner made in conversation."""

    id = models.BigAutoField(primary_key=True)
    # Counted once by its receipt (EventReceipt) on PostgreSQL, where the table is partitioned by
    # month (tutor.partitions) and a unique index would have to hold the month: a trigger refuses a
    # row whose event id is known, whatever its door. SQLite's one table keeps its unique index.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # No index of its own: tutor_error_user_time leads with the user and serves the same lookups.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="errors", db_index=False)
    timestamp_utc = models.DateTimeField(default=timezone.now)

    class Meta(ErrorPair.Meta):
        ordering = ["-timestamp_utc", "-id"]
        indexes = [
            # "This user's errors since T", answered from the index alone (it carries the pair).
            models.Index(
                fields=["user", "timestamp_utc", "errorCategory", "errorSubCategory"],
                name="tutor_error_user_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.get_errorSubCategory_display()} at {self.timestamp_utc:%Y-%m-%d %H:%M}"


class EventReceipt(models.Model):
    """An error event id received, kept EVENT_ID_WINDOW_DAYS: a row carrying it again is not stored again."""

    event_id = models.UUIDField(primary_key=True, editable=False)
    # Set by PostgreSQL: the trigger and the flush's COPY insert the event id alone.
    received_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        db_table = "tutor_event_receipt"

    def __str__(self) -> str:
        return f"{self.event_id} at {self.received_at:%Y-%m-%d %H:%M}"


class Exercise(ErrorPair):
    """A curated exercise that trains one error subcategory."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    exercise_type = models.CharField(max_length=32, choices=ExerciseType.choices)
    level = models.CharField(max_length=2, choices=CEFRLevel.choices)
    instructions = models.TextField()
    content = models.JSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Every save and delete, whatever its door, is kept as a version (tutor.exercise_history).
    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta(ErrorPair.Meta):
        ordering = ["errorSubCategory", "level", "title"]
        indexes = [
            models.Index(fields=["errorSubCategory", "is_active", "level"], name="tutor_exercise_sub_active"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.level}, {self.get_exercise_type_display()})"

    def clean(self) -> None:
        super().clean()
        problems = content_errors(self.exercise_type, self.content) or self.item_ids_taken()
        if problems:
            raise ValidationError({"content": problems})

    def item_ids_taken(self) -> list[str]:
        """Item ids of this exercise's content that another exercise of the bank already uses."""
        used = Exercise.item_ids_in_bank(exclude=self.pk)
        return [
            f"content.{path}['id']: {item['id']!r} is already used by {used[item['id']]!r}"
            for path, item in items_of(self.content)
            if item.get("id") in used
        ]

    @staticmethod
    def item_ids_in_bank(exclude=None) -> dict[str, str]:
        """Every item id of the bank (but of the exercise `exclude`), with the title of the exercise that uses it."""
        rows = Exercise.objects.exclude(pk=exclude).values_list("title", "content")
        return {
            item["id"]: title for title, content in rows.iterator() for _, item in items_of(content) if "id" in item
        }


ONE_PER_ACCENT = "An item has one recording per accent: replace the file of its existing row instead."


def recording_file_name(recording: "Recording", filename: str) -> str:
    """Name a new recording's file after its exercise, item and accent, with a token no earlier upload had.

    A replaced recording gets a new URL, so that no browser or CDN goes on playing the old one.
    """
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"recordings/{recording.exercise_id}/{recording.item_id}.{recording.accent}.{uuid.uuid4().hex[:12]}.{ext}"


class Recording(models.Model):
    """A person's recording of one pronunciation item of an exercise, in one accent.

    The source of the item's `audio` list in the exercise's content, which tutor.recordings rewrites
    (through the exercise's save, so that caches stay true) whenever a recording is saved or deleted.
    """

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="recordings")
    item_id = models.CharField("item", max_length=ITEM_ID_MAX_LENGTH, help_text="The pronunciation item recorded.")
    accent = models.CharField(max_length=2, choices=list(ACCENT_NAMES.items()))
    file = models.FileField(upload_to=recording_file_name, max_length=255, validators=[validate_audio])
    uploaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exercise", "item_id", "accent"]
        constraints = [
            models.UniqueConstraint(
                fields=["exercise", "item_id", "accent"],
                name="tutor_recording_one_per_accent",
                violation_error_message=ONE_PER_ACCENT,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} ({self.accent})"

    def clean(self) -> None:
        super().clean()
        if self.item_id and self.exercise_id is not None:
            problem = recording_item_problem(self.exercise.content, self.item_id)
            if problem:
                raise ValidationError({"item_id": problem})


def recording_item_problem(content: object, item_id: str) -> str:
    """Say why `item_id` cannot have a recording in this content ("" when it can)."""
    item = next((item for _, item in items_of(content) if item.get("id") == item_id), None)
    if item is None:
        return f"Item: this exercise has no item {item_id!r}."
    if "audio" not in item:
        return (
            f"Item: {item_id!r} takes no recording; only pronunciation items do "
            "(those of repeat after me, and identify, pairs and sentences of minimal pairs)."
        )
    return ""


class ExerciseAttempt(models.Model):
    """A learner did an exercise (recommendations then rotate past it)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="attempts")
    completed_at = models.DateTimeField(default=timezone.now)
    score = models.FloatField(null=True, blank=True, help_text="How well it went, from 0 to 1.")
    answers = models.JSONField(null=True, blank=True, help_text="The learner's answers by item id, when graded here.")
    items = models.JSONField(null=True, blank=True, help_text="The verdict on each keyed item when it was graded.")

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [models.Index(fields=["user", "exercise", "completed_at"], name="tutor_attempt_user_exercise")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=0, score__lte=1),
                name="tutor_attempt_score_0_1",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} did {self.exercise_id} at {self.completed_at:%Y-%m-%d %H:%M}"


class UnannouncedChange(models.Model):
    """A learner whose rows changed while the buffer could not be told; the next flush tells it.

    Written in the same transaction as a write-through (or after a write whose version bump did
    not reach the buffer), so that no process answers from state kept before the change for
    longer than one flush interval once the buffer answers again.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id} changed at {self.changed_at:%Y-%m-%d %H:%M:%S}"


class ExerciseBankVersion(models.Model):
    """The exercise bank's version: replaced in the same transaction as every change to the bank.

    Without the buffer, readers take the bank's version from here, so a change made through one
    process is seen by every other; with it, the flush checks that the buffer's version was
    replaced after the last change here (tutor.invalidation).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    value = models.UUIDField(default=uuid.uuid4)

    def __str__(self) -> str:
        return f"exercise bank version {self.value.hex}"

    @classmethod
    def current(cls) -> str:
        """Return the bank's version (made on first use)."""
        return cls.objects.get_or_create(pk=1)[0].value.hex

    @classmethod
    def replace(cls) -> str:
        """Give the bank a new version, within the current transaction, and return it."""
        value = uuid.uuid4()
        cls.objects.update_or_create(pk=1, defaults={"value": value})
        return value.hex


class ApiKey(models.Model):
    """An API client's key, kept as its SHA-256 only: the key itself is shown once, when it is created.

    Written through tutor.api_keys, which makes, finds and revokes keys.
    """

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="The account it signs in.",
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. conversation-service (production).")
    # The key's first characters: enough to tell keys apart in the admin and in logs, too few to use.
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)  # SHA-256 of the key, in hex
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty = never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ExerciseMemory(models.Model):
    """What a learner's attempts at an exercise say of when to meet it again (`tutor.scheduling`)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memories", db_index=False)
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="memories")
    card = models.JSONField(help_text="The FSRS card that replaying the attempts gives.")
    last_done = models.DateTimeField()
    due = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "exercise"], name="tutor_memory_user_exercise")]
        verbose_name_plural = "exercise memories"

    def __str__(self) -> str:
        return f"{self.user_id} / {self.exercise_id}: due {self.due:%Y-%m-%d %H:%M}"
