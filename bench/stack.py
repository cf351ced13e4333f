"""The processes and tools of the benchmark: gunicorn and Celery under measure, wrk, peak memory."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
LUA = ROOT / "bench" / "lua"


class Stack:
    """The production processes: the floor and the service under gunicorn, and a Celery worker."""

    def __init__(self, env: dict[str, str]):
        self.env = {**os.environ, **env}
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], **env) -> subprocess.Popen:
        log = (WORK / f"{name}.log").open("w")
        process = subprocess.Popen(
            command, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def gunicorn(self, name: str, app: str, port: int, **env) -> None:
        bin_dir = Path(sys.executable).parent
        self.start(
            name,
            [str(bin_dir / "gunicorn"), "-c", "python:english_tutor.gunicorn", app],
            GUNICORN_BIND=f"127.0.0.1:{port}",
            **env,
        )
        healthz = app.startswith("english_tutor")
        wait_http(f"http://127.0.0.1:{port}/healthz" if healthz else f"http://127.0.0.1:{port}/")

    def worker(self) -> None:
        bin_dir = Path(sys.executable).parent
        self.start("worker", [str(bin_dir / "celery"), "-A", "english_tutor", "worker", "--loglevel", "WARNING"])

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def wait_http(url: str, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:  # refused, reset, or timed out while the workers boot
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer; see {WORK}/*.log") from None
            time.sleep(0.3)


def wrk(args, url: str, script: str, *, duration: int | None = None, **env) -> dict:
    """Run wrk with one of bench/lua's scripts and return its summary."""
    result = subprocess.run(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{duration or args.duration}s",
            "--latency",
            "-s",
            str(LUA / script),
            url,
        ],
        env={**os.environ, "BENCH_LUA_DIR": str(LUA), "BENCH_THREADS": str(args.threads), **env},
        capture_output=True,
        text=True,
        timeout=(duration or args.duration) + 120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed: {result.stdout}\n{result.stderr}")
    summary = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    return summary


def peak_rss_mb(pid: int) -> float:
    """Return the largest peak RSS (VmHWM) among the process and its children, in MB."""
    pids = [pid, *children(pid)]
    peaks = []
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return max(peaks, default=0.0)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for kid in map(int, kids):
            found += [kid, *children(kid)]
    return found
