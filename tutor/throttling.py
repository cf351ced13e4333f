import logging
import math
import time

from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from tutor import buffer

logger = logging.getLogger(__name__)


class ClientRateThrottle(UserRateThrottle):
    """Requests per API client (per token or staff login; per IP address for anonymous calls).

    A fixed-window counter: one atomic increment per request, where DRF's default keeps a list
    of timestamps and reads and writes it whole. A client may burst up to twice its rate across
    a window boundary, never more. The rate is read from the settings per request, so
    API_THROTTLE_RATES (and a test's override) always applies.

    The counter lives in the event buffer's Redis when there is one (else in the cache), so that
    the hot paths count in the round trip they make anyway: a view with `counted(request,
    counter)` takes the count itself (generate-exercise with its snapshot), or defers it to its
    write (error-events, in the same script that buffers the events). With the counter's Redis
    unreachable the API stays open rather than refusing everyone.
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
        key, seconds = f"{ident}:{window}", self.duration + 1
        if not buffer.enabled():
            count = _count_in_cache(key, seconds)
            return count is None or count <= self.num_requests  # None: the cache is unreachable
        counter = buffer.Counter(key, seconds, self.num_requests)
        request.throttle_counter, request.throttle_wait = counter, self.wait()
        counted = getattr(view, "counted", None)
        try:
            count = counted(request, counter) if counted else buffer.count(counter)
        except (buffer.BufferUnavailable, buffer.BufferFull) as exc:
            logger.warning("Cannot count requests in the event buffer, request not throttled: %s", exc)
            return True
        return count is None or count <= self.num_requests

    def wait(self):
        return max(self.window_end - self.now, 1)


def count_refused(request) -> None:
    """Count a request whose count a view deferred to a write that did not happen; raise Throttled if over."""
    counter = getattr(request, "throttle_counter", None)
    if counter is None:
        return
    try:
        over = buffer.count(counter) > counter.limit
    except (buffer.BufferUnavailable, buffer.BufferFull):
        return
    if over:
        raise throttled(request)


def throttled(request) -> Throttled:
    return Throttled(wait=math.ceil(request.throttle_wait))


def _count_in_cache(key: str, seconds: int) -> int | None:
    try:
        return cache.incr(key)
    except ValueError:  # the first request of this window
        if cache.add(key, 1, timeout=seconds):
            return 1
        return cache.incr(key)  # another request opened the window meanwhile
