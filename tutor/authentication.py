"""Token authentication that does not query the database on every request, nor need it while it is down."""

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from rest_framework.authentication import TokenAuthentication

from tutor.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

CLIENT_FIELDS = ("id", "username", "is_staff", "is_superuser", "is_active")
# How long the shared cache keeps what PostgreSQL last said of a token, for outages of PostgreSQL:
# while it is up, a token is checked again every TOKEN_CACHE_SECONDS whatever its record's age.
RECORD_SECONDS = 30 * 24 * 3600
RECORD_FORMAT = 1
_LOCAL_LIMIT = 10_000


@dataclass(frozen=True)
class Verified:
    """What PostgreSQL last said of a token: the client's fields, and when (time.time())."""

    client: dict
    at: float

    def fresh(self) -> bool:
        return time.time() - self.at < settings.TOKEN_CACHE_SECONDS


# This process's own copy, in front of the shared cache: most requests need no round trip at all.
# Each holds the record, the client's unsaved User built from it, and when to look again (time.monotonic()).
_local: dict[str, tuple[float, Verified, object]] = {}


def _key(token: str) -> str:
    # The token itself never becomes a cache key: a cache dump must not leak credentials.
    return "api-token:" + hashlib.sha256(token.encode()).hexdigest()


def _read_record(name: str) -> Verified | None:
    kept = cache.get(name)
    if not isinstance(kept, dict) or kept.get("format") != RECORD_FORMAT:
        return None
    return Verified(kept["client"], kept["at"])


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with verified tokens remembered for TOKEN_CACHE_SECONDS.

    A deleted token or a deactivated client stops working within that time while PostgreSQL is
    up. While it is down, a token it verified before keeps working (events are still accepted
    into the buffer); one it never verified gets a 503. Only the client's id, name and flags are
    kept, never its password hash.
    """

    def authenticate_credentials(self, key):
        name = _key(key)
        now = time.monotonic()
        look_again, record, user = _local.get(name, (0.0, None, None))
        if look_again > now:
            return user, key
        record = _read_record(name) or record
        if record is None or not record.fresh():
            record = self._verify(key, name, record)
        user = get_user_model()(**record.client)
        if len(_local) >= _LOCAL_LIMIT:
            _local.clear()
        _local[name] = (now + max(0.0, settings.TOKEN_CACHE_SECONDS - (time.time() - record.at)), record, user)
        return user, key

    def _verify(self, key: str, name: str, known: Verified | None) -> Verified:
        """Ask PostgreSQL about the token; while it cannot answer, go on with what it said before."""
        try:
            user, _ = super().authenticate_credentials(key)
        except (OperationalError, InterfaceError) as exc:
            if known is None:
                raise ServiceUnavailable("the database cannot check this token now; retry later") from exc
            logger.warning("Database unreachable; trusting a token it verified %.0f s ago", time.time() - known.at)
            # Look again after TOKEN_CACHE_SECONDS, not on every request of the outage.
            return Verified(known.client, time.time())
        except Exception:
            cache.delete(name)
            _local.pop(name, None)
            raise
        record = Verified({field: getattr(user, field) for field in CLIENT_FIELDS}, time.time())
        cache.set(name, {"format": RECORD_FORMAT, "client": record.client, "at": record.at}, timeout=RECORD_SECONDS)
        return record
