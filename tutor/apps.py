from django.apps import AppConfig


class TutorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tutor"
    verbose_name = "English Tutor"

    def ready(self):
        # Importing them connects their signals: the caches kept true, recordings written into content,
        # practice scheduled from attempts, versions of exercises loaded from fixtures.
        from tutor import exercise_history, invalidation, recordings, scheduling  # noqa: F401
