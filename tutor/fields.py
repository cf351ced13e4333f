"""Serializer fields shared by several endpoints, so that they validate the same way."""

from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers


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


class UserIdField(serializers.UUIDField):
    default_error_messages = {"invalid": "user_id must be a UUID such as dcc44822-4b8d-43cf-be83-fb510ea07bae."}


class EventTimeField(serializers.DateTimeField):
    """When an error was made: ISO 8601, not in the future beyond the allowed clock skew."""

    default_error_messages = {
        "future": "timestamp_utc is {skew} s or more in the future; send the time the error was made."
    }

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        skew = settings.EVENT_MAX_CLOCK_SKEW_SECONDS
        if moment > timezone.now() + timedelta(seconds=skew):
            self.fail("future", skew=skew)
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
