from django.apps import AppConfig


class TutorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tutor"
    verbose_name = "English Tutor"

    def ready(self):
        from tutor import exercise_history, invalidation  # noqa: F401  (connect the signals: caches, versions)
