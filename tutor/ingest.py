"""Writes: accepting the errors learners make."""

from datetime import datetime
from uuid import UUID

from django.db import transaction

from tutor.models import Error


def record_error(*, user_id: UUID, category: int, subcategory: int, timestamp: datetime) -> Error:
    """Store one error straight in the database and return the stored row."""
    with transaction.atomic():
        return Error.objects.create(
            user_id=user_id, errorCategory=category, errorSubCategory=subcategory, timestamp_utc=timestamp
        )
