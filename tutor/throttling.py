import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class ClientRateThrottle(UserRateThrottle):
    """Requests per API client (per token or staff login; per IP address for anonymous calls).

    A fixed-window counter: one atomic increment in the cache per request, where DRF's default
    keeps a list of timestamps and reads and writes it whole. A client may burst up to twice its
    rate across a window boundary, never more. The rate is read from the settings per request, so
    API_THROTTLE_RATES (and a test's override) always applies.
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
        key = f"{ident}:{window}"
        self.window_end = (window + 1) * self.duration
        try:
            count = cache.incr(key)
        except ValueError:  # the first request of this window
            if cache.add(key, 1, timeout=self.duration + 1):
                return True
            count = cache.incr(key)  # another request opened the window meanwhile
        # With the cache unreachable (count None) the API stays open rather than refusing everyone.
        return count is None or count <= self.num_requests

    def wait(self):
        return max(self.window_end - self.now, 1)
