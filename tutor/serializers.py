import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tutor import grading, learners, progress, scoring
from tutor.buffer import Event, new_event_ids
from tutor.exercise_content import CONTENT_FIELDS, content_errors
from tutor.fields import (
    BoundedIntegerField,
    EventTimeField,
    StrictCharField,
    StrictChoiceField,
    StrictFloatField,
    StrictModelSerializer,
    UserIdField,
    UUIDTextField,
    earliest_event_time,
    in_utc,
    parse_uuid,
)
from tutor.models import Error, Exercise, ExerciseAttempt, User
from tutor.taxonomy import CATEGORY_OF, PAIR_FIELDS, ErrorCategory, ErrorSubCategory, pair_error
from tutor.text import NO_NUL

MAX_TOP_N_ERRORS = 1000
MAX_LAST_N_DAYS = 36500
MAX_EXERCISES_PER_ERROR = 10


def refuse_half_changes(attrs: dict, *groups: tuple[str, str]) -> None:
    """Refuse a change that sends one field of a group without the other: they are checked together."""
    for group in groups:
        sent = [name for name in group if name in attrs]
        if len(sent) == 1:
            (missing,) = set(group) - set(sent)
            raise serializers.ValidationError({missing: [f"Send {missing} with {sent[0]}: they change together."]})


class PairRuleMixin:
    """Refuse an errorSubCategory that does not belong to the errorCategory; a change sends both together."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        refuse_half_changes(attrs, PAIR_FIELDS)
        category = attrs.get("errorCategory", getattr(self.instance, "errorCategory", None))
        subcategory = attrs.get("errorSubCategory", getattr(self.instance, "errorSubCategory", None))
        problem = pair_error(category, subcategory)
        if problem:
            raise serializers.ValidationError({"errorSubCategory": problem})
        return attrs


class UserSerializer(StrictModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username", "email", "first_name", "last_name", "level", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class KnownUserIdField(UserIdField):
    """A user_id that must name an existing learner (400 otherwise: it is part of the payload)."""

    default_error_messages = {"unknown": "No user with id {user_id}."}

    def to_internal_value(self, data):
        user_id = super().to_internal_value(data)
        if not learners.exists(user_id):
            self.fail("unknown", user_id=user_id)
        return user_id


class ErrorSerializer(PairRuleMixin, StrictModelSerializer):
    """An error as any client reports it and gets it back: the learner by id only, never their profile."""

    user_id = KnownUserIdField()
    timestamp_utc = EventTimeField(
        required=False,
        help_text="When the error was made: from 2000-01-01T00:00:00Z to a few minutes ahead (default: now).",
    )

    class Meta:
        model = Error
        fields = ("id", "event_id", "user_id", "errorCategory", "errorSubCategory", "timestamp_utc")
        read_only_fields = ("id", "event_id")


class StoredErrorSerializer(ErrorSerializer):
    """An error as staff read it, with the learner's profile."""

    user = UserSerializer(read_only=True)

    class Meta(ErrorSerializer.Meta):
        fields = ("id", "event_id", "user", "user_id", "errorCategory", "errorSubCategory", "timestamp_utc")


class ExerciseSerializer(PairRuleMixin, StrictModelSerializer):
    class Meta:
        model = Exercise
        fields = (
            "id",
            "title",
            "errorCategory",
            "errorSubCategory",
            "exercise_type",
            "level",
            "instructions",
            "content",
            "is_active",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        refuse_half_changes(attrs, CONTENT_FIELDS)
        exercise_type = attrs.get("exercise_type", getattr(self.instance, "exercise_type", None))
        content = attrs.get("content", getattr(self.instance, "content", None))
        problems = content_errors(exercise_type, content)
        if not problems and "content" in attrs:
            problems = Exercise(pk=getattr(self.instance, "pk", None), content=content).item_ids_taken()
        if problems:
            raise serializers.ValidationError({"content": problems})
        return attrs


class RankingField(serializers.ChoiceField):
    """The name of a ranking mode registered in tutor.scoring, as the registry holds them when a query is read."""

    default_error_messages = {"invalid_choice": "{field} must be one of: {modes}."}

    def __init__(self, **kwargs):
        help_text = " ".join(f"{mode.name}: {mode.help}" for mode in scoring.MODES.values())
        super().__init__(choices=list(scoring.MODES), default=scoring.DEFAULT, help_text=help_text, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in scoring.MODES:
            self.fail("invalid_choice", field=self.field_name, modes=", ".join(scoring.MODES))
        return data


class GenerateExerciseQuery(serializers.Serializer):
    user_id = UserIdField(help_text="The learner's UUID.")
    top_n_errors = BoundedIntegerField(
        min_value=1,
        max_value=MAX_TOP_N_ERRORS,
        required=False,
        help_text="Keep the N most frequent pairs (default: all).",
    )
    last_n_days = BoundedIntegerField(
        min_value=1,
        max_value=MAX_LAST_N_DAYS,
        required=False,
        help_text="Count errors of the last N days (default: all time).",
    )
    exercises_per_error = BoundedIntegerField(
        min_value=1, max_value=MAX_EXERCISES_PER_ERROR, default=3, help_text="Exercises returned per pair."
    )
    ranking = RankingField()
    half_life_days = BoundedIntegerField(
        min_value=1, max_value=90, default=7, help_text="With ranking=decay: days after which an error weighs half."
    )
    cooldown_days = BoundedIntegerField(
        min_value=0,
        max_value=365,
        required=False,
        help_text="Also skip exercises the learner did in the last N days, due or not (default: the schedule decides).",
    )


# One instance for all requests: its fields are built once, at import, and only validate afterwards.
GENERATE_QUERY = GenerateExerciseQuery()
_QUERY_INTS = {
    name: (field.min_value, field.max_value)
    for name, field in GENERATE_QUERY.fields.items()
    if isinstance(field, BoundedIntegerField)
}
_QUERY_DEFAULTS = {
    name: field.default for name, field in GENERATE_QUERY.fields.items() if field.default is not serializers.empty
}


def plain_query(params: dict) -> dict | None:
    """Validate a plainly written generate-exercise query without the serializer machinery, or return None.

    Accepts only what GenerateExerciseQuery accepts, with the same result (a test compares the
    two): numbers written with digits only, a known ranking, a UUID. Anything else returns None
    and goes through the serializer, which then names what is wrong.
    """
    valid = dict(_QUERY_DEFAULTS)
    for name, value in params.items():
        if name in _QUERY_INTS:
            if not (value.isascii() and value.isdigit() and len(value) <= 6):
                return None
            low, high = _QUERY_INTS[name]
            if not low <= int(value) <= high:
                return None
            valid[name] = int(value)
        elif name == "ranking" and value in scoring.MODES:
            valid[name] = value
        elif name == "user_id" and (user_id := parse_uuid(value)) is not None:
            valid[name] = user_id
        else:
            return None
    return valid if "user_id" in valid else None


class RecommendedExerciseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    exercise_type = serializers.CharField()
    level = serializers.CharField()
    instructions = serializers.CharField()
    content = serializers.JSONField()
    repeat = serializers.BooleanField(help_text="Not due yet, shown again because the pool ran out.")
    status = serializers.ChoiceField(
        choices=["new", "due", "repeat"],
        help_text="new: never done; due: due for review by the learner's schedule; repeat: not due yet.",
    )
    last_done = serializers.DateTimeField(allow_null=True, help_text="When the learner last did it.")


class PairLabelsSerializer(serializers.Serializer):
    errorCategory = serializers.CharField(help_text="Category label, e.g. Grammar.")
    errorSubCategory = serializers.CharField(help_text="Subcategory label, e.g. Tense.")


class TopErrorSerializer(PairLabelsSerializer):
    errorFrequency = serializers.IntegerField(help_text="Errors of this pair in the window.")
    score = serializers.FloatField(
        help_text="What the pair is ranked by, as the ranking mode scores it (a whole number for modes that count)."
    )
    last_seen = serializers.DateTimeField(help_text="When the newest error of this pair was made.")
    exercises = RecommendedExerciseSerializer(many=True)


class GenerateExerciseResponse(serializers.Serializer):
    user_id = serializers.UUIDField()
    top_errors = TopErrorSerializer(many=True)


MAX_EVENTS_PER_REQUEST = 1000


class ErrorEventSerializer(PairRuleMixin, serializers.Serializer):
    event_id = UUIDTextField(required=False, help_text="Client-chosen id that makes retries safe (default: generated).")
    user_id = UserIdField()
    errorCategory = StrictChoiceField(choices=ErrorCategory.choices)
    errorSubCategory = StrictChoiceField(choices=ErrorSubCategory.choices)
    timestamp_utc = EventTimeField(
        required=False,
        help_text="When the error was made: from 2000-01-01T00:00:00Z to a few minutes ahead (default: now).",
    )


class ErrorEventsAccepted(serializers.Serializer):
    accepted = serializers.IntegerField()
    event_ids = serializers.ListField(child=serializers.UUIDField())


# One instance for all items and requests: building a serializer's fields costs more than validating with them.
_EVENT = ErrorEventSerializer()


_EVENT_KEYS = frozenset(ErrorEventSerializer().fields)


def plain_event(item) -> dict | None:
    """Validate a plainly well-formed event without the serializer machinery, or return None.

    Accepts only what ErrorEventSerializer accepts, with the same result (a test compares the
    two); anything unusual (strings for codes, extra keys, naive times...) returns None and goes
    through the serializer, which then names what is wrong. Batches of events spend most of
    their time here, so it is worth the short second path.
    """
    if type(item) is not dict or not item.keys() <= _EVENT_KEYS:
        return None
    category, sub, user_id = item.get("errorCategory"), item.get("errorSubCategory"), item.get("user_id")
    if type(category) is not int or type(sub) is not int or CATEGORY_OF.get(sub) != category:
        return None
    valid = {"user_id": parse_uuid(user_id), "errorCategory": category, "errorSubCategory": sub}
    if "event_id" in item:
        valid["event_id"] = parse_uuid(item["event_id"])
    if valid["user_id"] is None or valid.get("event_id", True) is None:
        return None
    if "timestamp_utc" in item:
        try:
            moment = parse_datetime(item["timestamp_utc"]) if type(item["timestamp_utc"]) is str else None
            if moment is None or moment.tzinfo is None:
                return None
            moment = in_utc(moment)
        except (ValueError, OverflowError):
            return None
        if (
            not earliest_event_time()
            <= moment
            <= timezone.now() + timedelta(seconds=settings.EVENT_MAX_CLOCK_SKEW_SECONDS)
        ):
            return None
        valid["timestamp_utc"] = moment
    return valid


def parse_error_events(data) -> list[Event]:
    """Validate one event object or a list of 1..1000; refuse the whole request naming each bad item."""
    many = isinstance(data, list)
    if not many and not isinstance(data, dict):
        raise serializers.ValidationError({"events": ["Send an event object or a list of event objects."]})
    items = data if many else [data]
    if not 1 <= len(items) <= MAX_EVENTS_PER_REQUEST:
        raise serializers.ValidationError(
            {"events": [f"A request holds 1 to {MAX_EVENTS_PER_REQUEST} events; this one holds {len(items)}."]}
        )
    errors, valid = {}, []
    for index, item in enumerate(items):
        plain = plain_event(item)
        if plain is not None:
            valid.append(plain)
            continue
        try:
            valid.append(_EVENT.run_validation(item))
        except serializers.ValidationError as exc:
            errors[index] = exc.detail
    if errors:
        raise _refusal(errors, many)
    now = timezone.now()
    new_ids = iter(new_event_ids(sum("event_id" not in item for item in valid)))
    return [
        Event(
            item["event_id"] if "event_id" in item else next(new_ids),
            item["user_id"],
            item["errorCategory"],
            item["errorSubCategory"],
            item.get("timestamp_utc") or now,
        )
        for item in valid
    ]


def unknown_users_refusal(events: list[Event], unknown: set, many: bool) -> serializers.ValidationError:
    """The 400 for events (as parsed, in the request's order) naming learners that do not exist."""
    errors = {
        index: {"user_id": [f"No user with id {event.user_id}."]}
        for index, event in enumerate(events)
        if event.user_id in unknown
    }
    return _refusal(errors, many)


def _refusal(errors: dict[int, dict], many: bool) -> serializers.ValidationError:
    return serializers.ValidationError({"events": {str(i): e for i, e in errors.items()}} if many else errors[0])


MAX_ANSWER_LENGTH = 1000
MAX_ANSWERS = 200


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": MAX_ANSWER_LENGTH, "pattern": NO_NUL},
        "minProperties": 1,
        "maxProperties": MAX_ANSWERS,
        "nullable": True,
    }
)
class AnswersField(serializers.DictField):
    """Answers by item id: at least one, at most MAX_ANSWERS."""


class GradedItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The item's id.")
    correct = serializers.BooleanField()
    expected = serializers.CharField(help_text="The key (other accepted answers are in the exercise's content).")
    explanation = serializers.CharField(allow_null=True)


class ExerciseAttemptSerializer(StrictModelSerializer):
    """An exercise a learner did: with a score sent by the client, or graded here from the answers sent."""

    user_id = KnownUserIdField()
    exercise_id = serializers.PrimaryKeyRelatedField(
        source="exercise",
        queryset=Exercise.objects.all(),
        error_messages={
            "does_not_exist": "No exercise with id {pk_value}.",
            "incorrect_type": "exercise_id must be a UUID.",
        },
    )
    completed_at = EventTimeField(
        required=False,
        help_text="When the learner finished it: from 2000-01-01T00:00:00Z to a few minutes ahead (default: now).",
    )
    score = StrictFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="How well it went, from 0 to 1: sent for open tasks; computed here when answers are sent.",
    )
    answers = AnswersField(
        child=StrictCharField(max_length=MAX_ANSWER_LENGTH, allow_blank=True, trim_whitespace=False),
        required=False,
        allow_empty=False,
        allow_null=True,
        help_text="The learner's answer per item id; the service grades the items that have a key (null: none).",
    )
    items = GradedItemSerializer(many=True, read_only=True, allow_null=True)

    class Meta:
        model = ExerciseAttempt
        fields = ("id", "user_id", "exercise_id", "completed_at", "score", "answers", "items")
        read_only_fields = ("id", "items")

    def validate_score(self, value):
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("score must be a number from 0 to 1.")
        return value

    def validate_answers(self, value):
        if value is not None and len(value) > MAX_ANSWERS:
            raise serializers.ValidationError(f"answers may name at most {MAX_ANSWERS} items.")
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("answers") is None:
            attrs.pop("answers", None)
            return attrs
        if "score" in attrs:
            raise serializers.ValidationError({"score": ["The score is computed from answers: send one or the other."]})
        keyed = grading.keyed_items(attrs["exercise"].content)
        if not keyed:
            raise serializers.ValidationError(
                {"answers": ["This exercise has no items with a key: send its score (0 to 1) instead."]}
            )
        unknown = sorted(set(attrs["answers"]) - set(keyed))
        if unknown:
            raise serializers.ValidationError(
                {
                    "answers": [
                        f"{', '.join(map(repr, unknown))}: not keyed items of this exercise ({', '.join(keyed)})."
                    ]
                }
            )
        return attrs


class ProgressQuery(serializers.Serializer):
    weeks = BoundedIntegerField(
        min_value=1,
        max_value=progress.MAX_WEEKS,
        default=progress.WEEKS,
        help_text="How many ISO weeks (Monday 00:00 UTC), up to and including this one.",
    )


PROGRESS_QUERY = ProgressQuery()


class ProgressPairSerializer(PairLabelsSerializer):
    errors = serializers.IntegerField(
        help_text="Errors of this pair made this week, events still in the real-time buffer included."
    )
    attempts = serializers.IntegerField(help_text="Attempts at exercises of this pair completed this week.")
    average_score = serializers.FloatField(
        allow_null=True, help_text="The mean score of this week's scored attempts of this pair, 0 to 1; null if none."
    )


class ProgressWeekSerializer(serializers.Serializer):
    week_start = serializers.DateField(help_text="The week's Monday (UTC).")
    pairs = ProgressPairSerializer(many=True, help_text="The pairs with errors or attempts this week.")


class ProgressTrendSerializer(PairLabelsSerializer):
    trend = serializers.ChoiceField(
        choices=progress.TRENDS,
        help_text=progress.TREND_RULE,
    )
    earlier_errors = serializers.IntegerField(
        help_text="The pair's errors in the earlier half (the first N // 2 weeks)."
    )
    later_errors = serializers.IntegerField(help_text="The pair's errors in the later half (the last N // 2 weeks).")
    earlier_active_weeks = serializers.IntegerField(help_text="Weeks of the earlier half the learner was active.")
    later_active_weeks = serializers.IntegerField(help_text="Weeks of the later half the learner was active.")
    earlier_errors_per_week = serializers.FloatField(allow_null=True, help_text="null without an active week.")
    later_errors_per_week = serializers.FloatField(allow_null=True, help_text="null without an active week.")
    change = serializers.FloatField(
        allow_null=True, help_text="later / earlier errors per week - 1; null when the earlier rate is 0 or unknown."
    )


class DueExerciseSerializer(PairLabelsSerializer):
    exercise_id = serializers.UUIDField()
    title = serializers.CharField()
    due = serializers.DateTimeField(help_text="When the learner's schedule made it due.")
    last_done = serializers.DateTimeField()


class ProgressResponse(serializers.Serializer):
    """A learner's progress: weekly figures per pair, each pair's trend, and what is due for review now."""

    user_id = serializers.UUIDField()
    weeks = ProgressWeekSerializer(many=True, help_text="The last N ISO weeks, oldest first.")
    trends = ProgressTrendSerializer(many=True, help_text="Each pair with errors or attempts in the window.")
    due = DueExerciseSerializer(
        many=True, help_text="Active exercises due for review now by the learner's schedule, the most overdue first."
    )
