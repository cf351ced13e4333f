"""API key authentication that does not query the database on every request, nor need it while it is down."""

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from tutor import api_keys
from tutor.exceptions import ServiceUnavailable
from tutor.throttling import FailedAuthenticationThrottle

logger = logging.getLogger(__name__)

CLIENT_FIELDS = ("id", "username", "is_staff", "is_superuser", "is_active")
# How long the shared cache keeps what PostgreSQL last said of a key, for outages of PostgreSQL:
# while it is up, a key is checked again every TOKEN_CACHE_SECONDS whatever its record's age.
RECORD_SECONDS = 30 * 24 * 3600
RECORD_FORMAT = 2
_LOCAL_LIMIT = 10_000


@dataclass(frozen=True)
class Verified:
    """What PostgreSQL last said of a key: the client's fields, when (time.time()) and when the key expires."""

    client: dict
    at: float
    expires_at: float | None

    def fresh(self) -> bool:
        return time.time() - self.at < settings.TOKEN_CACHE_SECONDS

    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at

    def seconds_left(self) -> float:
        """Return how long the record may be trusted without asking again: fresh, and the key not expired."""
        left = settings.TOKEN_CACHE_SECONDS - (time.time() - self.at)
        if self.expires_at is not None:
            left = min(left, self.expires_at - time.time())
        return max(0.0, left)


# This process's own copy, in front of the shared cache: most requests need no round trip at all.
# Each holds the record, the client's unsaved User built from it, and when to look again (time.monotonic()).
_local: dict[str, tuple[float, Verified, object]] = {}


def _read_record(name: str) -> Verified | None:
    kept = cache.get(name)
    if not isinstance(kept, dict) or kept.get("format") != RECORD_FORMAT:
        return None
    return Verified(kept["client"], kept["at"], kept["expires_at"])


def _keep_record(name: str, record: Verified) -> None:
    seconds = RECORD_SECONDS
    if record.expires_at is not None:
        seconds = max(1, min(seconds, math.ceil(record.expires_at - time.time())))
    kept = {"format": RECORD_FORMAT, "client": record.client, "at": record.at, "expires_at": record.expires_at}
    cache.set(name, kept, timeout=seconds)


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` with API keys (tutor.api_keys), verified keys remembered for TOKEN_CACHE_SECONDS.

    A revoked key or a deactivated client stops working within that time while PostgreSQL is
    up, and an expired key at its expiry. While PostgreSQL is down, a key it verified before
    keeps working until it expires (events are still accepted into the buffer); one it never
    verified gets a 503. Only the client's id, name and flags are kept, never its password hash.

    Failed authentications are counted per client IP (FailedAuthenticationThrottle): past the
    rate, a key this process has not verified lately is answered 429 without being looked at.
    """

    def authenticate(self, request):
        # DRF makes one instance per request: authenticate_credentials finds the request here.
        self.request = request
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            FailedAuthenticationThrottle(request).count_failure()
            raise

    def authenticate_credentials(self, key):
        name = api_keys.record_name(api_keys.digest(key))
        now = time.monotonic()
        look_again, record, user = _local.get(name, (0.0, None, None))
        if look_again > now:
            return user, key
        # From here on a key costs a round trip or a query: not for an address that keeps failing.
        FailedAuthenticationThrottle(self.request).refuse_if_over()
        record = _read_record(name) or record
        if record is None or not record.fresh():
            record = self._verify(key, name, record)
        if record.expired():
            raise AuthenticationFailed(_("Invalid token."))
        user = get_user_model()(**record.client)
        if len(_local) >= _LOCAL_LIMIT:
            _local.clear()
        _local[name] = (now + record.seconds_left(), record, user)
        return user, key

    def _verify(self, key: str, name: str, known: Verified | None) -> Verified:
        """Ask PostgreSQL about the key; while it cannot answer, go on with what it said before."""
        try:
            api_key = api_keys.find(key=key)
        except (OperationalError, InterfaceError) as exc:
            if known is None:
                raise ServiceUnavailable("the database cannot check this key now; retry later") from exc
            logger.warning(
                "Database unreachable; trusting key %s…, which it verified %.0f s ago",
                api_keys.prefix_of(key),
                time.time() - known.at,
            )
            # Look again after TOKEN_CACHE_SECONDS, not on every request of the outage.
            return Verified(known.client, time.time(), known.expires_at)
        if api_key is None or not api_key.client.is_active:
            logger.info(
                "Refused API key %r…: %s",
                api_keys.prefix_of(key),
                "unknown, revoked or expired" if api_key is None else "inactive client",
            )
            cache.delete(name)
            _local.pop(name, None)
            raise AuthenticationFailed(_("Invalid token.") if api_key is None else _("User inactive or deleted."))
        client = api_key.client
        expires_at = api_key.expires_at.timestamp() if api_key.expires_at else None
        record = Verified({field: getattr(client, field) for field in CLIENT_FIELDS}, time.time(), expires_at)
        _keep_record(name, record)
        return record
