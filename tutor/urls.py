from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tutor import views

router = SimpleRouter(trailing_slash=False)
router.register("users", views.UserViewSet)
router.register("errors", views.ErrorViewSet)
router.register("exercises", views.ExerciseViewSet)
router.register("exercise-attempts", views.ExerciseAttemptViewSet)

# The two calls made in the middle of conversations, matched first (english_tutor/urls.py).
hot_urlpatterns = [
    path("api/error-events", views.ErrorEventsView.as_view(), name="error-events"),
    path("api/generate-exercise", views.GenerateExerciseView.as_view(), name="generate-exercise"),
]
urlpatterns = [path("", include(router.urls))]
