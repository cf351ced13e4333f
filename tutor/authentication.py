"""Token authentication that does not query the database on every request."""

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication

CLIENT_FIELDS = ("id", "username", "is_staff", "is_superuser", "is_active")


def _key(token: str) -> str:
    # The token itself never becomes a cache key: a cache dump must not leak credentials.
    return "api-token:" + hashlib.sha256(token.encode()).hexdigest()


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with verified tokens remembered for TOKEN_CACHE_SECONDS.

    A deleted token or a deactivated client stops working within that time. Only the client's
    id, name and flags are cached, never its password hash.
    """

    def authenticate_credentials(self, key):
        client = cache.get(_key(key))
        if client is None:
            user, _ = super().authenticate_credentials(key)
            client = {field: getattr(user, field) for field in CLIENT_FIELDS}
            cache.set(_key(key), client, timeout=settings.TOKEN_CACHE_SECONDS)
        return get_user_model()(**client), key
