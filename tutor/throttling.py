import functools
import logging
import time

import redis
from django.core.cache import cache
from redis.commands.core import Script
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class ClientRateThrottle(UserRateThrottle):
    """Requests per API client (per token or staff login; per IP address for anonymous calls).

    A fixed-window counter: one atomic increment in the cache per request, where DRF's default
    keeps a list of timestamps and reads and writes it whole. A client may burst up to twice its
    rate across a window boundary, never more. The rate is read from the settings per request, so
    API_THROTTLE_RATES (and a test's override) always applies.

    On Redis the increment travels in one pipeline with the cache entries the view is about to
    read (`view.cache_keys(request)`), which land in `request.cached`: a hot read then costs one
    round trip to the cache, not two. With the cache unreachable the API stays open rather than
    refusing everyone.
    """

    scope = "client"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = time.time()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key, timeout = f"{ident}:{window}", self.duration + 1
        if not hasattr(cache, "client"):  # not django-redis: the in-process cache of `make run`
            return _count(key, timeout) <= self.num_requests
        prefetch = view.cache_keys(request) if hasattr(view, "cache_keys") else []
        try:
            count, request.cached = _count_and_read(key, timeout, prefetch)
        except redis.RedisError as exc:
            logger.warning("Cache unreachable, request not throttled: %s", exc)
            return True
        return count <= self.num_requests

    def wait(self):
        return max(self.window_end - self.now, 1)


def _count(key: str, timeout: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # the first request of this window
        if cache.add(key, 1, timeout=timeout):
            return 1
        return cache.incr(key)  # another request opened the window meanwhile


# One command: the increment (opening the window with its expiry) and the reads, atomically.
_COUNT_AND_READ = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if #KEYS == 1 then return {count, {}} end
return {count, redis.call('MGET', unpack(KEYS, 2))}
"""


@functools.cache
def _script(client: redis.Redis) -> Script:
    return client.register_script(_COUNT_AND_READ)


def _count_and_read(key: str, timeout: int, keys: list[str]) -> tuple[int, dict]:
    """Increment `key` (expiring after `timeout` s) and read `keys`, in one round trip to Redis."""
    client = cache.client.get_client(write=True)
    count, values = _script(client)(keys=[cache.make_key(key), *(cache.make_key(k) for k in keys)], args=[timeout])
    return count, {k: None if v is None else cache.client.decode(v) for k, v in zip(keys, values, strict=True)}
