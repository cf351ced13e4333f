"""Fixed-window request counters: per API client, and failed authentications per client IP.

A client's IP is the socket's peer unless API_TRUSTED_PROXIES (DRF's NUM_PROXIES) says how many
proxies in front append to X-Forwarded-For: a client cannot pick its own address by sending one.

The hot handlers count their own request in the buffer round trip they make anyway: they are
marked `counts_itself` (ClientRateThrottle leaves them alone) and run inside `counting`.
"""

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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

    def window_counter(self, ident: str) -> buffer.WindowCounter:
        """Return the counter of `ident` (the client and scope) for the current window."""
        self.now = time.time()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        return buffer.WindowCounter(f"{ident}:{window}", self.duration + 1, self.num_requests)

    def wait(self):
        return max(self.window_end - self.now, 1)

    def throttled(self) -> Throttled:
        """Return the refusal of a request over the rate, saying when the window ends (Retry-After)."""
        return Throttled(wait=math.ceil(self.wait()))

    def refuse_if_past_limit(self, count: int | None) -> None:
        """Raise Throttled when `count` (None: not counted) passes the rate."""
        if count is not None and count > self.num_requests:
            raise self.throttled()


class ClientRateThrottle(FixedWindowThrottle, UserRateThrottle):
    """Requests per API client (per key or staff login; per IP address for anonymous calls).

    It counts every request but those of a handler marked `counts_itself`, which counts its own.
    """

    scope = "client"

    def allow_request(self, request, view):
        if getattr(getattr(view, request.method.lower(), None), "counts_itself", False):
            return True
        counter = self.client_counter(request)
        count = None if counter is None else _count(counter)
        return count is None or count <= self.num_requests

    def client_counter(self, request: Request) -> buffer.WindowCounter | None:
        """Return the counter of the request's client in this window; None when clients have no rate."""
        if self.rate is None:
            return None
        ident = self.get_cache_key(request, None)
        return None if ident is None else self.window_counter(ident)


def counts_itself(handler: Callable) -> Callable:
    """Mark a view's handler as counting its own request (with `counting`): ClientRateThrottle skips it."""
    handler.counts_itself = True
    return handler


@contextmanager
def counting(request: Request) -> Iterator[buffer.WindowCounter | None]:
    """Count the request once against its client's rate, and refuse it (Throttled) past the rate.

    The block gets the counter to hand to its buffer write (a push, a snapshot), which counts the
    request in the same round trip and raises OverLimit, having written nothing, past the limit.
    It gets None when there is nothing for it to count: clients have no rate, or there is no
    buffer and the request was counted here, in the cache, before the block. A request the
    block refuses (any exception) before the buffer counted it is counted here: refused requests
    count too. A buffer that cannot count lets the request through.
    """
    throttle = ClientRateThrottle()
    counter = throttle.client_counter(request)
    if counter is not None and not buffer.enabled():
        throttle.refuse_if_past_limit(_count(counter))
        counter = None
    try:
        yield counter
    except buffer.OverLimit:
        raise throttle.throttled() from None
    except Exception:
        if counter is not None and not counter.counted:
            throttle.refuse_if_past_limit(_count(counter))
        raise


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
            raise self.throttled()

    def count_failure(self) -> None:
        """Count a failed authentication of the address; raise Throttled when that passes the rate."""
        if self.counter is not None:
            self.refuse_if_past_limit(_count(self.counter))


def _count(counter: buffer.WindowCounter) -> int | None:
    """Count one request on the counter and return its count; None when the store cannot count it."""
    if not buffer.enabled():
        return _count_in_cache(counter.name, counter.seconds)
    try:
        return buffer.count(counter)
    except (buffer.BufferUnavailable, buffer.BufferFull) as exc:
        logger.warning("Cannot count requests in the event buffer, request not throttled: %s", exc)
        return None


def _peek(counter: buffer.WindowCounter) -> int | None:
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
