"""API keys: made, found and revoked here, and stored only as their SHA-256.

A key is `tutor_` and 32 random bytes (URL-safe base64). It is shown once, when it is made, and
never stored: the database keeps its SHA-256 (a fast hash is enough for 256 random bits, which no
dictionary holds) and its prefix, the first characters that name it in the admin, the commands
and the logs. The shared cache knows a verified key by the same digest.
"""

import hashlib
import hmac
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from tutor.models import ApiKey

MARKER = "tutor_"
RANDOM_BYTES = 32
PREFIX_CHARACTERS = 8  # of the random part, after the marker


def digest(key: str) -> str:
    """Return the SHA-256 of a key in hex: all the database and the cache ever hold of it."""
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str:
    """Return the public start of a key: the marker and 8 characters (8 for a key from before the marker)."""
    return key[: len(MARKER) + PREFIX_CHARACTERS] if key.startswith(MARKER) else key[:PREFIX_CHARACTERS]


def record_name(key_digest: str) -> str:
    """Name the shared cache's record of what PostgreSQL said of a key (by its digest: a cache dump leaks no key)."""
    return f"api-key:{key_digest}"


def issue(*, api_key: ApiKey) -> str:
    """Give an unsaved key its secret, store the key with the secret's digest only, and return the secret."""
    key = MARKER + secrets.token_urlsafe(RANDOM_BYTES)
    api_key.prefix, api_key.digest = prefix_of(key), digest(key)
    api_key.save()
    return key


def create(*, client: AbstractBaseUser, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Make a key for the client; return it and the secret, which is shown once and never stored."""
    api_key = ApiKey(client=client, name=name, expires_at=expires_at)
    return api_key, issue(api_key=api_key)


def find(*, key: str) -> ApiKey | None:
    """Return the usable key (neither revoked nor expired) that `key` opens, with its client; else None."""
    wanted = digest(key)
    candidates = ApiKey.objects.select_related("client").filter(
        Q(expires_at=None) | Q(expires_at__gt=timezone.now()), prefix=prefix_of(key), revoked_at=None
    )
    # Found by the public prefix and compared in constant time: the database never compares secrets.
    return next((found for found in candidates if hmac.compare_digest(found.digest, wanted)), None)


def revoke(*, api_keys: QuerySet[ApiKey]) -> int:
    """Revoke the keys that are not revoked yet and return how many were.

    Each stops working at once in processes that have not verified it lately, and within
    TOKEN_CACHE_SECONDS in the others.
    """
    with transaction.atomic():
        digests = list(api_keys.select_for_update().filter(revoked_at=None).values_list("digest", flat=True))
        revoked = ApiKey.objects.filter(digest__in=digests).update(revoked_at=timezone.now())
        # Forgotten once committed: a process verifying the key meanwhile would put the record back.
        transaction.on_commit(lambda: cache.delete_many([record_name(d) for d in digests]))
    return revoked
