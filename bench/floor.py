"""The floor of the benchmark: a bare DRF APIView returning a small constant JSON body.

Served by the same gunicorn settings as the service, it measures what the framework and the
server allow on this machine, before any of the service's own work.
"""

import django
from django.conf import settings
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark-floor-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    MIDDLEWARE=[],
    REST_FRAMEWORK={
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class Floor(APIView):
    def get(self, request):
        return Response({"status": "ok", "service": "floor"})


urlpatterns = [path("", Floor.as_view())]
application = get_wsgi_application()
