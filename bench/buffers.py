"""The buffer on one Redis and on a 3-node Redis Cluster, side by side: ingest, warm reads, and the flush.

Both are private servers started here alike (no persistence, so that neither waits on a disk), and
the same gunicorn and PostgreSQL serve both. The events the ingest measure accepts are then flushed
(on one Redis by one flusher, one shard; on the cluster by one flusher per node, in parallel, each
taking its own shards), before the warm reads.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.stack import ROOT, WORK, Stack, wrk
from tutor.tests.redis_cluster import RedisClusterServers
from tutor.tests.redis_server import RedisServer

PORT = 8903
NO_DISK = ("--save", "", "--appendonly", "no")
# Learners warmed up for the warm reads of each buffer.
WARM_LEARNERS = 1000


def measure_buffers(args, stack: Stack, token: str) -> dict:
    """Measure ingest, warm reads and the flush on each buffer, one after the other; return the figures by buffer."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        single = RedisServer(Path(tmp), *NO_DISK)
        (Path(tmp) / "cluster").mkdir()
        cluster = RedisClusterServers(Path(tmp) / "cluster", *NO_DISK)
        try:
            buffers = {
                "one Redis": (
                    {"EVENT_BUFFER_URL": f"redis://127.0.0.1:{single.port}/0", "EVENT_STREAM_SHARDS": "1"},
                    [single.port],
                ),
                "3-node cluster": (
                    {
                        "EVENT_BUFFER_URL": f"redis://127.0.0.1:{cluster.nodes[0].port}",
                        "EVENT_BUFFER_CLUSTER": "true",
                        "EVENT_STREAM_SHARDS": "16",
                    },
                    [node.port for node in cluster.nodes],
                ),
            }
            for name, (env, ports) in buffers.items():
                print(f"Measuring the buffer on {name}...", flush=True)
                results[name] = _measure(args, stack, token, env, ports, flushers=len(ports))
        finally:
            single.stop()
            cluster.stop()
    return results


def redis_cpu_seconds(ports: list[int]) -> float:
    """Return the CPU time the Redis servers on `ports` have used so far, in seconds, added up."""
    total = 0.0
    for port in ports:
        cpu = redis.Redis(port=port).info("cpu")
        total += cpu["used_cpu_user"] + cpu["used_cpu_sys"]
    return total


def _measure(args, stack: Stack, token: str, env: dict[str, str], ports: list[int], *, flushers: int) -> dict:
    users = WORK / "users.txt"
    warm_users = WORK / "users_buffer_warm.txt"
    warm_users.write_text("\n".join(users.read_text().split()[:WARM_LEARNERS]) + "\n")
    api = {"BENCH_TOKEN": token, "BENCH_USERS_FILE": str(users)}
    warm = {**api, "BENCH_USERS_FILE": str(warm_users)}
    figures = {}
    stack.gunicorn("app-buffer", "english_tutor.wsgi:application", PORT, **env)
    try:
        url = f"http://127.0.0.1:{PORT}"
        figures["events_single"] = wrk(args, url, "post_events.lua", BENCH_BATCH="1", **api)
        cpu = redis_cpu_seconds(ports)
        figures["events_batch_100"] = wrk(args, url, "post_events.lua", BENCH_BATCH="100", **api)
        # Redis's own CPU per event accepted in batches: what one shard's core can take, apart from the web tier.
        accepted = figures["events_batch_100"]["requests"] * 100
        figures["redis_cpu_us_per_event"] = (redis_cpu_seconds(ports) - cpu) * 1e6 / max(accepted, 1)
        # Flushed before the warm reads: a learner with events pending is read from PostgreSQL too.
        figures["flush"] = _flush(env, flushers)
        # Long enough for each learner to be asked once on either buffer (each thread stops at its slice's end).
        wrk(args, url, "generate_cold.lua", duration=30, **warm)
        figures["generate_warm"] = wrk(args, url, "generate_warm.lua", **warm)
    finally:
        stack.stop("app-buffer")
    return figures


def _flush(env: dict[str, str], flushers: int) -> dict:
    """Flush what the ingest accepted with `flushers` processes in parallel; return events, seconds and events/s."""
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.flusher", "--part", str(part), "--parts", str(flushers)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in range(flushers)
    ]
    reports = [json.loads(process.communicate(timeout=3600)[0]) for process in processes]
    seconds = time.monotonic() - started
    events = sum(report["events"] for report in reports)
    return {"flushers": flushers, "events": events, "seconds": seconds, "events_per_s": events / seconds}


def forget_flushed(since) -> int:
    """Delete the rows (and receipts) the flushes of these measures stored, received since `since`; return how many."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM tutor_error WHERE timestamp_utc >= %s AND event_id IN "
            "(SELECT event_id FROM tutor_event_receipt WHERE received_at >= %s)",
            [since, since],
        )
        deleted = cursor.rowcount
        cursor.execute("DELETE FROM tutor_event_receipt WHERE received_at >= %s", [since])
    return deleted
