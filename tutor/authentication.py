"""Token authentication that does not query the database on every request."""

import hashlib
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication

CLIENT_FIELDS = ("id", "username", "is_staff", "is_superuser", "is_active")
_LOCAL_LIMIT = 10_000
# This process's own copy, in front of the shared cache: most requests need no round trip at all.
# It holds the client's unsaved User built from the cached fields; requests only read it.
_local: dict[str, tuple[float, object]] = {}


def _key(token: str) -> str:
    # The token itself never becomes a cache key: a cache dump must not leak credentials.
    return "api-token:" + hashlib.sha256(token.encode()).hexdigest()


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with verified tokens remembered for TOKEN_CACHE_SECONDS.

    A deleted token or a deactivated client stops working within that time. Only the client's
    id, name and flags are cached, never its password hash.
    """

    def authenticate_credentials(self, key):
        name = _key(key)
        now = time.monotonic()
        expires, user = _local.get(name, (0.0, None))
        if expires <= now:
            client = cache.get(name)
            if client is None:
                user, _ = super().authenticate_credentials(key)
                client = {field: getattr(user, field) for field in CLIENT_FIELDS}
                cache.set(name, client, timeout=settings.TOKEN_CACHE_SECONDS)
            user = get_user_model()(**client)
            if len(_local) >= _LOCAL_LIMIT:
                _local.clear()
            _local[name] = (now + settings.TOKEN_CACHE_SECONDS, user)
        return user, key
