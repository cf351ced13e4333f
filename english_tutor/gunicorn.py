"""The recommended gunicorn settings (`gunicorn -c python:english_tutor.gunicorn english_tutor.wsgi`).

Every value can be changed from the environment, read by the strict readers the settings use: a
malformed or out-of-range value stops gunicorn before it forks, with a message (no traceback)
naming every value refused.
The benchmark serves its floor with the same file.
"""

import multiprocessing
import os
import tempfile

from django.core.exceptions import ImproperlyConfigured

from english_tutor import environment

environment.collect()
bind = environment.bind("GUNICORN_BIND", default="127.0.0.1:8000")
workers = environment.integer("GUNICORN_WORKERS", default=multiprocessing.cpu_count() * 2, low=1, high=1024)
# Seconds a worker may take over one request before the master kills it; 0 (never) is refused.
timeout = environment.integer("GUNICORN_TIMEOUT", default=30, low=1, high=3600)
# Recycle workers now and then so that a slow leak can never grow a worker without bound.
max_requests = environment.integer("GUNICORN_MAX_REQUESTS", default=20000, low=1, high=10_000_000)
accesslog = environment.log_file("GUNICORN_ACCESS_LOG")
multiprocess_dir = environment.directory("PROMETHEUS_MULTIPROC_DIR")
try:
    environment.check()
except ImproperlyConfigured as exc:
    # gunicorn would print a traceback under the message; the message alone says it all.
    raise SystemExit(f"Error: {exc}") from None

# Each worker keeps its metrics in files of its own here, which a scrape of /metrics adds up. Set
# before any worker imports prometheus_client: it reads the variable once, at import, to choose
# where metrics keep their values.
if multiprocess_dir is None:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tutor-metrics-")

worker_class = "sync"
backlog = 2048
keepalive = 5
max_requests_jitter = max_requests // 10
errorlog = "-"


def child_exit(server, worker):
    """Drop the live gauges of a worker that exited; its counters and histograms stay in the totals."""
    # Imported here: at the top it would come before the variable is set, in the master every worker forks from.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
