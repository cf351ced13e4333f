from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from tutor import media
from tutor.metrics import MetricsView
from tutor.urls import hot_urlpatterns
from tutor.views import healthz

urlpatterns = [
    *hot_urlpatterns,
    path("", RedirectView.as_view(pattern_name="swagger-ui", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/swagger/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("tutor.urls")),
    *media.urlpatterns(),
]

handler400 = "tutor.views.refused"
handler404 = "tutor.views.not_found"
handler500 = "tutor.views.server_failed"
