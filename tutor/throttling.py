"""Fixed-window request counters: per API client, and failed authentications per client IP.

A client's IP is the socket's peer unless API_TRUSTED_PROXIES (DRF's NUM_PROXIES) says how many
proxies in front append to X-Forwarded-For: a client cannot pick its own address by sending one.
"""

import functools
import logging
import math
import time
from collections.abc import Callable

from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from tutor import buffer

logger = logging.getLogger(__name__)


class FixedWindowThrottle(SimpleRateThrottle):
    """A fixed-window counter: one atomic increment per request, in the event buffer's Redis when there is one.

    DRF's default keeps a list of timestamps and reads and writes it whole. A client may burst up
    to twice its rate across a window boundary, never more. The rate is read from the settings
    when the throttle is made, so API_THROTTLE_RATES (and a test's override) always applies.
    With the counter's store unreachable the API stays open rather than refusing everyone.
    """

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def window_counter(self, ident: str) -> buffer.Counter:
        """Return the counter of `ident` (the client and scope) for the current window."""
        self.now = time.time()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        return buffer.Counter(f"{ident}:{window}", self.duration + 1, self.num_requests)

    def wait(self):
        return max(self.window_end - self.now, 1)


class ClientRateThrottle(FixedWindowThrottle, UserRateThrottle):
    """Requests per API client (per key or staff login; per IP address for anonymous calls).

    The hot paths count in the round trip they make anyway: a view with `counted(request,
    counter)` takes the count itself (generate-exercise with its snapshot), or defers it to its
    write (error-events, in the same script that buffers the events).
    """

    scope = "client"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        counter = self.window_counter(ident)
        if buffer.enabled():
            request.throttle_counter, request.throttle_wait = counter, self.wait()
        counted = getattr(view, "counted", None)
        count = _count(counter, counted=counted and functools.partial(counted, request))
        return count is None or count <= self.num_requests


class FailedAuthenticationThrottle(FixedWindowThrottle):
    """Failed authentications per client IP (scope `auth_failures` of API_THROTTLE_RATES).

    Authentication runs before DRF's throttles, so a wrong key would otherwise be answered 401 at
    full speed forever. Once an address has failed the rate's number of times in a window, its
    requests are answered 429 without their key being looked up, until the window ends (a key
    the answering process verified within TOKEN_CACHE_SECONDS needs no lookup, and passes).
    """

    scope = "auth_failures"

    def __init__(self, request: Request):
        super().__init__()
        self.counter = None
        if self.rate is not None:
            ident = self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
            self.counter = self.window_counter(ident)

    def refuse_if_over(self) -> None:
        """Raise Throttled when the address has used up its failures of this window."""
        if self.counter is not None and (_peek(self.counter) or 0) >= self.num_requests:
            raise Throttled(wait=math.ceil(self.wait()))

    def count_failure(self) -> None:
        """Count a failed authentication of the address; raise Throttled when that passes the rate."""
        if self.counter is not None and (_count(self.counter) or 0) > self.num_requests:
            raise Throttled(wait=math.ceil(self.wait()))


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


def _count(counter: buffer.Counter, counted: Callable[[buffer.Counter], int | None] | None = None) -> int | None:
    """Count one request on the counter and return its count; None when the store cannot count it (or defers it).

    `counted(counter)` counts it in a round trip of the view's own (the event buffer only).
    """
    if not buffer.enabled():
        return _count_in_cache(counter.name, counter.seconds)
    try:
        return counted(counter) if counted else buffer.count(counter)
    except (buffer.BufferUnavailable, buffer.BufferFull) as exc:
        logger.warning("Cannot count requests in the event buffer, request not throttled: %s", exc)
        return None


def _peek(counter: buffer.Counter) -> int | None:
    """Return the counter's count without counting; None when the store cannot tell."""
    if not buffer.enabled():
        return cache.get(counter.name)
    try:
        return buffer.peek(counter)
    except (buffer.BufferUnavailable, buffer.BufferFull) as exc:
        logger.warning("Cannot read a counter in the event buffer, request not throttled: %s", exc)
        return None


def _count_in_cache(key: str, seconds: int) -> int | None:
    try:
        return cache.incr(key)
    except ValueError:  # the first request of this window
        if cache.add(key, 1, timeout=seconds):
            return 1
        return cache.incr(key)  # another request opened the window meanwhile
