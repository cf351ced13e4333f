"""Serializer fields shared by several endpoints, so that they validate the same way."""

import uuid
from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
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
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError:
            value = None
        if value is None or not self.min_value <= value <= self.max_value:
            self.fail("range", field=self.field_name, low=self.min_value, high=self.max_value)
        return value


class UUIDTextField(serializers.UUIDField):
    """A UUID written as text, and nothing else (DRF's field also takes integers, so `false` would be a UUID)."""

    def to_internal_value(self, data):
        try:
            return uuid.UUID(data)
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")

    def fail(self, key, **kwargs):
        if key in ("invalid", "null"):
            message = f"{self.field_name} must be a UUID such as dcc44822-4b8d-43cf-be83-fb510ea07bae."
            raise serializers.ValidationError(message, code=key)
        super().fail(key, **kwargs)


class UserIdField(UUIDTextField):
    """The learner's id."""


class EventTimeField(serializers.DateTimeField):
    """When an error was made: ISO 8601, from EARLIEST_EVENT_TIME on, and no further ahead than the allowed skew."""

    default_error_messages = {
        "future": "{field} is {skew} s or more in the future; send the time the error was made.",
        "past": "{field} must be from {earliest} on.",
    }

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        skew = settings.EVENT_MAX_CLOCK_SKEW_SECONDS
        if moment > timezone.now() + timedelta(seconds=skew):
            self.fail("future", field=self.field_name, skew=skew)
        if moment < EARLIEST_EVENT_TIME:
            self.fail("past", field=self.field_name, earliest=EARLIEST_EVENT_TIME.isoformat().replace("+00:00", "Z"))
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
