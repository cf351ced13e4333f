"""A private PostgreSQL cluster for tests (and `make chaos`) that stop or crash it on purpose.

initdb refuses to run as root, so the cluster belongs to the `postgres` system user when the
suite runs as root; its folder lives under a temporary directory that user owns.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tutor.tests.redis_server import free_port

BIN = Path("/usr/lib/postgresql") / sorted(os.listdir("/usr/lib/postgresql"))[-1] / "bin"


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-c", " ".join(_quote(part) for part in command)]


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


class PostgresServer:
    """One PostgreSQL cluster on a free port: `start`, `stop(mode)`, `url(dbname)`.

    With `replica_of`, a streaming replica of that running cluster (a base backup of it, replaying
    its WAL as it comes; initdb's defaults let a local replication connection in). `options` are
    more server settings, such as "log_statement=all".
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        replica_of: "PostgresServer | None" = None,
        options: tuple[str, ...] = (),
    ):
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tutor-pg-"))
        self.data_dir = data_dir or self.root / "data"
        self.options = options
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        if replica_of is not None:
            source = ["-h", "127.0.0.1", "-p", str(replica_of.port), "-U", "postgres"]
            self._run([str(BIN / "pg_basebackup"), *source, "-D", str(self.data_dir), "-R", "-c", "fast"])
        elif not (self.data_dir / "PG_VERSION").exists():
            self._run([str(BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self.start()

    def _run(self, command: list[str]) -> None:
        subprocess.run(_as_owner(command), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the cluster (again, on the same port, with what it holds on disk) and wait until it answers."""
        options = " ".join(
            [f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"]
            + [f"-c {option}" for option in self.options]
        )
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l", str(self.root / "log"), "start"])
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL on port {self.port} did not start") from None
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster; mode "immediate" is a crash (no checkpoint, recovery at the next start)."""
        subprocess.run(
            _as_owner([str(BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "stop"]),
            capture_output=True,
            timeout=60,
        )

    def log(self) -> Path:
        """Return the server's log file (with "log_statement=all" among `options`, every statement it ran)."""
        return self.root / "log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
