"""The private servers and the production processes a battery runs against.

Nothing here touches the shared PostgreSQL (5432) or Redis (6379): every server listens on a
free port of 127.0.0.1, and every process is stopped through its own pid (its own process
group), never by name.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from chaos.buffer_servers import BufferServers
from tutor.tests.postgres_server import PostgresServer
from tutor.tests.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPLATE = "chaos_template"
# The flush's connections carry this application_name (libpq reads PGAPPNAME), so that a
# scenario can find the worker's COPY in pg_stat_activity and kill the worker in the middle of it.
FLUSH_APPLICATION = "chaos-flush"
ERROR_FLUSH_INTERVAL = 1.0
TOKEN_CACHE_SECONDS = 5
GUNICORN_WORKERS = 4


@dataclass
class Services:
    """The private PostgreSQL cluster, the buffer's servers and the Redis of Celery's broker and the cache."""

    postgres: PostgresServer
    buffer: BufferServers  # one Redis or a cluster, as production runs it; killed and filled on purpose
    broker: RedisServer  # separate, so that filling or killing the buffer leaves Celery running
    secret_key: str

    def environment(self, database: str, **extra: str) -> dict[str, str]:
        """Return the production configuration of the app processes, pointed at the private servers."""
        broker = self.broker.url.rsplit("/", 1)[0]
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "english_tutor.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.postgres.url(database),
            **self.buffer.view.environment(),
            "REDIS_URL": f"{broker}/0",
            "CELERY_BROKER_URL": f"{broker}/1",
            "ERROR_FLUSH_INTERVAL": str(ERROR_FLUSH_INTERVAL),
            "TOKEN_CACHE_SECONDS": str(TOKEN_CACHE_SECONDS),
            "GUNICORN_WORKERS": str(GUNICORN_WORKERS),
            "LOG_LEVEL": "WARNING",
            **extra,
        }

    def fresh_database(self, name: str, logs: Path) -> str:
        """Create database `name` from the template, migrate it, and return a new staff API client's key.

        Migrating each copy keeps the battery right when the code gained a migration since the
        template was made.
        """
        with psycopg.connect(self.postgres.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        env = self.environment(name)
        manage(env, logs, "migrate", "--no-input")
        return manage(env, logs, "create_api_client", "chaos", "--staff").split()[-1]

    def empty_buffers(self) -> None:
        """Empty the buffer and the broker, and lift any maxmemory a scenario set (no app process may be running)."""
        self.buffer.empty()
        redis.Redis.from_url(self.broker.url).flushall()


@contextmanager
def private_services(workdir: Path, *, cluster: bool) -> Iterator[Services]:
    """Start a private PostgreSQL cluster, the buffer's servers (`cluster`: a 3-node Redis Cluster) and the
    broker's Redis; stop and remove them on exit."""
    for tool in ("redis-server",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install redis-server")
    with ExitStack() as cleanup:
        postgres = PostgresServer()
        cleanup.callback(postgres.destroy)
        # The buffer's AOF, node files and logs stay in the battery's work folder, beside the other logs.
        buffer = BufferServers(workdir / "buffer", cluster=cluster)
        cleanup.callback(buffer.stop)
        broker_dir = Path(tempfile.mkdtemp(prefix="chaos-broker-"))
        cleanup.callback(shutil.rmtree, broker_dir, ignore_errors=True)
        broker = RedisServer(broker_dir, "--logfile", str(workdir / "redis-broker.log"))
        cleanup.callback(broker.stop)
        yield Services(postgres, buffer, broker, secret_key=secrets.token_urlsafe(50))


@dataclass(frozen=True)
class Template:
    """What every scenario's fresh database starts with, and the app's settings the bounds depend on."""

    learners: list[str]
    flush_batch: int  # ERROR_FLUSH_BATCH: stream entries per flush transaction


def prepare_template(services: Services, *, learners: int, logs: Path) -> Template:
    """Migrate the template database, load the exercise bank and add learners."""
    with psycopg.connect(services.postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    env = services.environment(TEMPLATE)
    manage(env, logs, "migrate", "--no-input")
    manage(env, logs, "loaddata", "exercises")
    ids = [str(uuid.uuid4()) for _ in range(learners)]
    now = datetime.now(UTC)
    columns = "id, username, email, first_name, last_name, created_at, updated_at"
    with (
        psycopg.connect(services.postgres.url(TEMPLATE)) as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY tutor_user ({columns}) FROM STDIN") as copy,
    ):
        for i, learner in enumerate(ids):
            copy.write_row((learner, f"chaos-{i}", f"chaos-{i}@example.com", "Chaos", f"Learner{i}", now, now))
    flush_batch = manage(
        env, logs, "shell", "-c", "from django.conf import settings; print(settings.ERROR_FLUSH_BATCH)"
    )
    return Template(learners=ids, flush_batch=int(flush_batch.split()[-1]))


def manage(env: dict[str, str], logs: Path, *args: str) -> str:
    """Run a manage.py command with the app's environment and return what it printed."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    with (logs / "manage.log").open("a") as log:
        log.write(f"$ manage.py {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-2000:]}")
    return result.stdout


@dataclass
class Process:
    """A process started in a process group of its own, so that it (and only it) can be signalled."""

    name: str
    popen: subprocess.Popen
    log: Path

    def running(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the process group: no chance to clean up, as in a crash."""
        if self.running():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM the process group, and SIGKILL it if it has not ended after `grace` seconds."""
        if self.running():
            os.killpg(self.popen.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        self.kill()


class Stack:
    """The app as production runs it: gunicorn (4 sync workers), a Celery worker (--pool solo) and beat."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env = env
        self.logs = logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, Process] = {}
        self.worker_starts = 0

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start gunicorn, beat and the worker, and wait until the API and the worker are ready."""
        self._spawn(
            "gunicorn",
            "gunicorn.log",
            [str(BIN / "gunicorn"), "-c", "python:english_tutor.gunicorn", "english_tutor.wsgi:application"],
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
        )
        wait_http(f"{self.url}/healthz", timeout=90, process=self.processes["gunicorn"])
        schedule = str(self.logs / "celerybeat-schedule")
        self._spawn(
            "beat",
            "beat.log",
            [str(BIN / "celery"), "-A", "english_tutor", "beat", "--loglevel", "INFO", "--schedule", schedule],
        )
        self.start_worker()

    def start_worker(self) -> None:
        """Start a Celery worker and wait until it says it is ready."""
        self.worker_starts += 1
        process = self._spawn(
            "worker",
            f"worker-{self.worker_starts}.log",
            [str(BIN / "celery"), "-A", "english_tutor", "worker", "--pool", "solo", "--loglevel", "INFO"],
            PGAPPNAME=FLUSH_APPLICATION,
        )
        wait_log(process, "ready.", timeout=90)

    def kill_worker(self) -> None:
        self.processes["worker"].kill()

    def stop_worker(self) -> None:
        self.processes["worker"].stop()

    def close(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def _spawn(self, name: str, log_name: str, command: list[str], **env: str) -> Process:
        log = self.logs / log_name
        with log.open("w") as out:
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = Process(name, popen, log)
        return self.processes[name]


def wait_http(url: str, *, timeout: float, process: Process) -> None:
    """Wait until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # refused or reset while the workers boot, or a 503 from a check
            pass
        if time.monotonic() > deadline or not process.running():
            raise RuntimeError(f"{url} did not answer 200; see {process.log}")
        time.sleep(0.2)


def wait_log(process: Process, text: str, *, timeout: float) -> None:
    """Wait until the process's log contains `text`."""
    deadline = time.monotonic() + timeout
    while text not in process.log.read_text(errors="replace"):
        if time.monotonic() > deadline or not process.running():
            raise RuntimeError(f"{process.name} never logged {text!r}; see {process.log}")
        time.sleep(0.1)
