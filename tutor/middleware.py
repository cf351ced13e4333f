import time

from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from tutor.metrics import REQUEST_SECONDS

# Any token is a valid HTTP method: the others share one label, so no client can grow the series.
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


class RequestMetricsMiddleware:
    """Time every answer into tutor_http_request_duration_seconds, labelled by URL pattern, never by path.

    First in MIDDLEWARE, so that it also times the other middleware and the answers they give themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        REQUEST_SECONDS.labels(
            match.view_name if match else "unmatched",
            request.method if request.method in _METHODS else "other",
            response.status_code,
        ).observe(time.perf_counter() - started)
        return response


class PageMessageMiddleware(MessageMiddleware):
    """Django's one-time messages for the admin's pages; skipped under /api/, where no page shows them.

    Setting up message storage reads and signs a cookie on every request, and no API answer uses it.
    """

    def process_request(self, request):
        if not request.path_info.startswith("/api/"):
            super().process_request(request)
