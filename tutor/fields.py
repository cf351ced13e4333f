"""Serializer fields shared by several endpoints, so that they validate the same way."""

import re
import uuid
from datetime import UTC, datetime, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

from tutor.buffer import EARLIEST_EVENT_TIME


def in_utc(moment):
    """Return an aware datetime in UTC (PostgreSQL refuses offsets past 15:59, Python allows 23:59)."""
    return moment.astimezone(UTC)


class BoundedIntegerField(serializers.IntegerField):
    """A whole number in [min_value, max_value]; any bad value names the field and the range."""

    default_error_messages = {"range": "{field} must be a whole number from {low} to {high}."}

    def to_internal_value(self, data):
        # Digits only, as OpenAPI's integer: DRF alone also reads "7.0" and " 7 ".
        text = str(data) if type(data) is int else data
        value = int(text) if isinstance(text, str) and re.fullmatch(r"-?[0-9]{1,18}", text) else None
        if value is None or not self.min_value <= value <= self.max_value:
            self.fail("range", field=self.field_name, low=self.min_value, high=self.max_value)
        return value


_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_uuid(value: object) -> uuid.UUID | None:
    """Return the UUID written in its usual form (8-4-4-4-12 hex digits, as OpenAPI's `uuid`), or None."""
    if isinstance(value, str) and _UUID_TEXT.fullmatch(value):
        return uuid.UUID(value)
    return None


class UUIDTextField(serializers.UUIDField):
    """A UUID written as text in its usual form, and nothing else (DRF's field also takes integers and bare hex)."""

    def to_internal_value(self, data):
        value = parse_uuid(data)
        if value is None:
            self.fail("invalid")
        return value

    def fail(self, key, **kwargs):
        if key in ("invalid", "null"):
            message = f"{self.field_name} must be a UUID such as dcc44822-4b8d-43cf-be83-fb510ea07bae."
            raise serializers.ValidationError(message, code=key)
        super().fail(key, **kwargs)


class UserIdField(UUIDTextField):
    """The learner's id."""


def earliest_event_time() -> datetime:
    """Return the earliest time an event may carry: EARLIEST_EVENT_TIME, or the start of the retention if later."""
    if not settings.ERROR_RETENTION_DAYS:
        return EARLIEST_EVENT_TIME
    # An error older than the retention would be dropped by the next retention run: refused, not accepted and lost.
    return max(EARLIEST_EVENT_TIME, timezone.now() - timedelta(days=settings.ERROR_RETENTION_DAYS))


class EventTimeField(serializers.DateTimeField):
    """When an error was made: ISO 8601, within the retention, and no further ahead than the allowed skew."""

    default_error_messages = {
        "future": "{field} is {skew} s or more in the future; send when it happened.",
        "past": "{field} must be from {earliest} on.",
    }

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        skew = settings.EVENT_MAX_CLOCK_SKEW_SECONDS
        if moment > timezone.now() + timedelta(seconds=skew):
            self.fail("future", field=self.field_name, skew=skew)
        earliest = earliest_event_time()
        if moment < earliest:
            self.fail("past", field=self.field_name, earliest=earliest.isoformat().replace("+00:00", "Z"))
        return moment


class UTCDateTimeFormField(IsoDateTimeField):
    """An ISO 8601 filter value, normalised to UTC; a time beyond the calendar's ends is invalid, not a crash."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return in_utc(moment)
        except OverflowError:
            raise ValidationError("Send a time from year 1 to 9999 in UTC.", code="invalid") from None


class JSONTypeMixin:
    """Refuse a value whose JSON type is not the field's: DRF alone reads "3" as 3, 0 as "0" and false as 0.0."""

    json_types: tuple[type, ...] = ()

    def to_internal_value(self, data):
        if not isinstance(data, self.json_types) or (isinstance(data, bool) and bool not in self.json_types):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(JSONTypeMixin, serializers.CharField):
    json_types = (str,)


class StrictEmailField(JSONTypeMixin, serializers.EmailField):
    json_types = (str,)


class StrictFloatField(JSONTypeMixin, serializers.FloatField):
    json_types = (int, float)


class StrictBooleanField(JSONTypeMixin, serializers.BooleanField):
    json_types = (bool,)


class StrictChoiceField(serializers.ChoiceField):
    """A choice sent with the type of its choices: 1 for a number, "A1" for a text."""

    def to_internal_value(self, data):
        if not any(type(data) is type(choice) for choice in self.choices):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """A model serializer whose fields take only values of the JSON type the API document gives them."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.FloatField: StrictFloatField,
        models.BooleanField: StrictBooleanField,
    }
    serializer_choice_field = StrictChoiceField


class UUIDFormField(forms.UUIDField):
    """A query parameter holding a UUID in its usual form."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        parsed = parse_uuid(value)
        if parsed is None:
            raise ValidationError("Send a UUID such as dcc44822-4b8d-43cf-be83-fb510ea07bae.", code="invalid")
        return parsed


class BooleanFormField(forms.NullBooleanField):
    """A query parameter holding true or false, and nothing else."""

    widget = forms.TextInput  # the raw text: NullBooleanField's own widget reads "null" or "2" as a boolean

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value not in ("true", "false"):
            raise ValidationError("Send true or false.", code="invalid")
        return value == "true"

    def validate(self, value):
        pass
