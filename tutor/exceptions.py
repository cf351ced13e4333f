"""Domain errors and the DRF exception handler that turns them into clear JSON answers."""

import logging

from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class UserNotFound(Exception):
    """The learner named in a request does not exist."""


class UnknownUsers(Exception):
    """Events name learners that do not exist (PostgreSQL just said so); nothing was accepted."""

    def __init__(self, user_ids: set):
        super().__init__(f"no users with ids {sorted(map(str, user_ids))}")
        self.user_ids = user_ids


class ServiceUnavailable(Exception):
    """A dependency needed to answer is down; the client may retry."""


def handler(exc, context):
    """Answer domain and database errors with JSON instead of a 500."""
    if isinstance(exc, UserNotFound):
        return Response({"error": "User not found"}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, IntegrityError):
        return Response(
            {"error": "The request conflicts with stored data (it may have changed meanwhile); retry."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        logger.warning("Answering 400 for a value the database refused: %s", exc)
        return Response(
            {"error": "A value is outside what the database can store; check dates and numbers."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ServiceUnavailable | OperationalError | InterfaceError):
        logger.warning("Answering 503: %s", exc)
        return Response(
            {"error": f"Service temporarily unavailable: {exc if isinstance(exc, ServiceUnavailable) else 'database'}"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    # Imported here: rest_framework.views loads the authentication classes, which raise ServiceUnavailable.
    from rest_framework.views import exception_handler

    return exception_handler(exc, context)
