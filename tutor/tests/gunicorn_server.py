"""gunicorn with the project's own configuration on a free port, for tests that need several worker processes."""

import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings

from tutor.tests.redis_server import free_port

SERVE = [sys.executable, "-m", "gunicorn", "-c", "python:english_tutor.gunicorn", "english_tutor.wsgi:application"]


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command in a process of its own with `env` (its settings); return what it printed."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class GunicornServer:
    """Started with `env` (the settings come from it) and `workers` processes; answers at `url` once made."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, log: Path | None = None):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            # The default control socket is shared by every gunicorn of this account: none here.
            [*SERVE, "--no-control-socket"],
            env={**env, "GUNICORN_BIND": self.url.removeprefix("http://"), "GUNICORN_WORKERS": str(workers)},
            cwd=settings.BASE_DIR,
            stdout=log.open("w") if log else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/healthz", timeout=5)
                return
            except requests.RequestException:
                assert self.process.poll() is None, "gunicorn exited at start"
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
