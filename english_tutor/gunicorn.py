"""The recommended gunicorn settings (`gunicorn -c python:english_tutor.gunicorn english_tutor.wsgi`).

Every value can be changed from the environment; the benchmark serves its floor with the same file.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
backlog = 2048
keepalive = 5
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# Recycle workers now and then so that a slow leak can never grow a worker without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
