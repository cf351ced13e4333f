"""The recommended gunicorn settings (`gunicorn -c python:english_tutor.gunicorn english_tutor.wsgi`).

Every value can be changed from the environment; the benchmark serves its floor with the same file.
"""

import multiprocessing
import os
import tempfile

# Each worker keeps its metrics in files of its own here, which a scrape of /metrics adds up. Set
# before any worker imports prometheus_client: it reads the variable once, at import, to choose
# where metrics keep their values.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tutor-metrics-")

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


def child_exit(server, worker):
    """Drop the live gauges of a worker that exited; its counters and histograms stay in the totals."""
    # Imported here: at the top it would come before the variable is set, in the master every worker forks from.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
