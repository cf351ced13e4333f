import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "english_tutor.settings")

app = Celery("english_tutor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
