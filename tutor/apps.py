from django.apps import AppConfig


class TutorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tutor"
    verbose_name = "English Tutor"

    def ready(self):
        from tutor import invalidation  # noqa: F401  (connects the signals that keep caches true)
