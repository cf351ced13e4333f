from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class ClientRateThrottle(UserRateThrottle):
    """Requests per API client (per token or staff login; per IP address for anonymous calls).

    The rate is read from the settings when a request comes, not when the class is imported,
    so that API_THROTTLE_RATES (and a test's override) always applies.
    """

    scope = "client"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
