"""The Django admin, one module per part of the service; importing them registers their pages."""

from tutor.admin import activity, api_keys, exercises, learners

__all__ = ["activity", "api_keys", "exercises", "learners"]
