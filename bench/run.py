"""`make bench`: seed PostgreSQL, start the production stack, measure it with wrk, print one table.

Every figure is printed beside the floor measured in the same run (a bare DRF view for the HTTP
figures, a plain COPY for the flush), because this machine is small, shared and noisy: ratios
measured side by side mean more than absolute numbers.
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.buffers import forget_flushed, measure_buffers
from bench.stack import ROOT, WORK, Stack, peak_rss_mb, wrk

RESULTS = ROOT / "bench" / "results.json"
CATEGORY_OF = {1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2, 8: 3, 9: 3, 10: 4, 11: 4, 12: 4}
FLOOR_PORT, APP_PORT = 8901, 8902


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="Learners to seed (default 1,000).")
    parser.add_argument("--errors", type=int, default=1000, help="Errors per learner over 60 days (default 1,000).")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk measurement.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument(
        "--warm-learners", type=int, default=10_000, help="Learners the warm measure asks for (default 10,000)."
    )
    parser.add_argument("--flush-events", type=int, default=500_000, help="Events buffered for the flush figure.")
    parser.add_argument("--seed-only", action="store_true", help="Seed the database for this size, then stop.")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379"))
    return parser.parse_args()


def configure(args: argparse.Namespace) -> dict[str, str]:
    """Set the environment of the production configuration (DEBUG off, PostgreSQL, Redis) for this run."""
    env = {
        "DJANGO_SETTINGS_MODULE": "english_tutor.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "benchmark-" + "k" * 50,
        "DATABASE_URL": f"{args.postgres}/english_tutor_bench_{args.users}x{args.errors}",
        "REDIS_URL": f"{args.redis}/10",
        "EVENT_BUFFER_URL": f"{args.redis}/11",
        "CELERY_BROKER_URL": f"{args.redis}/12",
        "API_THROTTLE_RATES": "client=100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return env


def seed(*, users: int, errors: int) -> None:
    """Fill the database with `users` learners of `errors` errors each over 60 days (once per size)."""
    from django.db import connection

    with connection.cursor() as cursor:
        # The seed's size is noted when it is complete: the demo data loaded after it adds rows of its own.
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_seed (users integer, errors integer)")
        cursor.execute("SELECT users, errors FROM bench_seed")
        if cursor.fetchall() == [(users, errors)]:
            cursor.execute("SELECT count(*) FROM tutor_user WHERE username LIKE 'bench-%%'")
            if cursor.fetchone()[0] == users:
                print(f"Seed of {users} x {errors} already in place; vacuuming it.", flush=True)
                # A previous run's flush measure inserted and deleted rows: settle the table first,
                # so that autovacuum does not run in the middle of this run's measures.
                cursor.execute("VACUUM ANALYZE tutor_error")
                return
        print(f"Seeding {users} learners x {errors} errors...", flush=True)
        started = time.monotonic()
        cursor.execute("TRUNCATE bench_seed, tutor_error, tutor_event_receipt, tutor_user CASCADE")
        # The seed stands for history older than the event-id window: its ids take no receipts.
        cursor.execute("ALTER TABLE tutor_error DISABLE TRIGGER tutor_error_receipt")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        # Indexes are built once after the load, which is much faster than maintaining them row by row.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tutor_error' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'tutor_error'::regclass)"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'tutor_error'::regclass AND contype IN ('u', 'f')"
        )
        constraints = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE tutor_error DROP CONSTRAINT "{name}"')
        rng = random.Random(20261129)
        now = datetime.now(UTC)
        ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(users)]
        with cursor.copy(
            "COPY tutor_user (id, username, email, first_name, last_name, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i, user_id in enumerate(ids):
                copy.write_row((user_id, f"bench-{i}", f"bench-{i}@example.com", "Bench", f"Learner{i}", now, now))
        # The errors are made inside PostgreSQL, a slice of learners per statement: on two cores that is
        # several times faster than streaming the same rows from Python. Each learner has their own weak
        # spots: a skewed draw over the 12 subcategories, turned by an offset of the learner's own.
        cursor.execute("SELECT setseed(0.20261129)")
        slice_size = max(1, 5_000_000 // errors)
        for first in range(0, users, slice_size):
            cursor.execute(
                """
                INSERT INTO tutor_error (event_id, user_id, "errorCategory", "errorSubCategory", timestamp_utc)
                SELECT gen_random_uuid(), e.user_id, (%(category_of)s::smallint[])[e.sub], e.sub,
                       %(now)s - random() * interval '60 days'
                FROM (
                    SELECT u.id AS user_id,
                           1 + (floor(12 * random() ^ 3)::int + u.turn) %% 12 AS sub
                    FROM (SELECT id, (row_number() OVER (ORDER BY id))::int %% 12 AS turn
                          FROM tutor_user WHERE username LIKE 'bench-%%' ORDER BY id
                          OFFSET %(first)s LIMIT %(slice)s) u
                    CROSS JOIN generate_series(1, %(errors)s)
                ) e
                """,
                {
                    "category_of": [CATEGORY_OF[sub] for sub in range(1, 13)],
                    "now": now,
                    "first": first,
                    "slice": slice_size,
                    "errors": errors,
                },
            )
            print(f"  {min(first + slice_size, users) * errors:,} errors", flush=True)
        cursor.execute("ALTER TABLE tutor_error ENABLE TRIGGER tutor_error_receipt")
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE tutor_error ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            # A partitioned table's index reads back as "ON ONLY": made so, it would build no partition's index.
            cursor.execute(definition.replace(" ON ONLY ", " ON "))
        # VACUUM sets the visibility map, so that reads are index-only scans as in a settled database.
        cursor.execute("VACUUM ANALYZE tutor_user")
        cursor.execute("VACUUM ANALYZE tutor_error")
        cursor.execute("INSERT INTO bench_seed (users, errors) VALUES (%s, %s)", [users, errors])
    print(f"Seeded in {time.monotonic() - started:.0f} s.", flush=True)


def prepare(args: argparse.Namespace) -> str:
    """Create and migrate the database, seed it, and return a staff API key for the API calls."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("create_database")
    call_command("migrate", verbosity=0)
    seed(users=args.users, errors=args.errors)
    call_command("seed_demo", verbosity=0)
    from django.contrib.auth import get_user_model

    from tutor import api_keys
    from tutor.models import User

    client, _ = get_user_model().objects.get_or_create(username="bench-client", defaults={"is_staff": True})
    _, key = api_keys.create(client=client, name="bench")
    WORK.mkdir(parents=True, exist_ok=True)
    ids = [str(pk) for pk in User.objects.filter(username__startswith="bench-").values_list("pk", flat=True)]
    random.Random(7).shuffle(ids)
    (WORK / "users.txt").write_text("\n".join(ids) + "\n")
    # A warm read never reaches PostgreSQL: the same number of learners warmed up at any seed size.
    (WORK / "users_warm.txt").write_text("\n".join(ids[: args.warm_learners]) + "\n")
    return key


def measure_flush(args: argparse.Namespace) -> dict:
    """Buffer N events, time the flush into PostgreSQL, and beside it a plain COPY of the same rows."""
    from django.db import connection

    from tutor import buffer, ingest, partitions
    from tutor.buffer import Event

    buffer.client().flushdb()
    ids = (WORK / "users.txt").read_text().split()
    rng = random.Random(11)
    now = datetime.now(UTC)
    events = []
    for _ in range(args.flush_events):
        sub = rng.randint(1, 12)
        events.append(
            Event(
                uuid.uuid4(), uuid.UUID(rng.choice(ids)), CATEGORY_OF[sub], sub, now - timedelta(seconds=rng.random())
            )
        )
    month = partitions.month_name(partitions.month_start(now))
    with connection.cursor() as cursor:
        # The floor first: a plain COPY of the same rows into a copy of the partition they land in, holding
        # the same rows and indexes, with a unique event_id (the least an idempotent store needs) and no
        # foreign key, trigger or receipt.
        cursor.execute("DROP TABLE IF EXISTS bench_copy_floor")
        cursor.execute(f"CREATE TABLE bench_copy_floor (LIKE {month} INCLUDING ALL)")
        cursor.execute(f"INSERT INTO bench_copy_floor SELECT * FROM {month}")
        cursor.execute("CREATE UNIQUE INDEX ON bench_copy_floor (event_id)")
        # A partition takes its ids from its parent's identity: the copy has one of its own, past its rows.
        cursor.execute("ALTER TABLE bench_copy_floor ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('bench_copy_floor', 'id'), "
            "(SELECT coalesce(max(id), 0) + 1 FROM bench_copy_floor), false)"
        )
        cursor.execute("ANALYZE bench_copy_floor")
        started = time.monotonic()
        with cursor.copy(
            'COPY bench_copy_floor (event_id, user_id, "errorCategory", "errorSubCategory", timestamp_utc) FROM STDIN'
        ) as copy:
            for e in events:
                copy.write_row((e.event_id, e.user_id, e.category, e.subcategory, e.timestamp))
        copy_seconds = time.monotonic() - started
        cursor.execute("DROP TABLE bench_copy_floor")

    for start in range(0, len(events), 1000):
        buffer.push(events[start : start + 1000])
    print(f"Flushing {len(events)} buffered events...", flush=True)
    started = time.monotonic()
    report = ingest.flush()
    flush_seconds = time.monotonic() - started
    if report.inserted != len(events):
        raise RuntimeError(f"The flush stored {report.inserted} of {len(events)} events: {report}")
    flushed = [e.event_id for e in events]
    with connection.cursor() as cursor:
        # The flushed rows are all in this month's partition: no other is read to delete them.
        cursor.execute(f"DELETE FROM {month} WHERE event_id = ANY(%s)", [flushed])
        cursor.execute("DELETE FROM tutor_event_receipt WHERE event_id = ANY(%s)", [flushed])
    return {
        "events": len(events),
        "flush_seconds": flush_seconds,
        "flush_events_per_s": len(events) / flush_seconds,
        "copy_seconds": copy_seconds,
        "copy_rows_per_s": len(events) / copy_seconds,
    }


def main() -> None:
    args = parse_args()
    for tool in ("wrk",):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install {tool}")
    env = configure(args)
    token = prepare(args)
    if args.seed_only:
        return
    users_file = str(WORK / "users.txt")
    import redis

    # Cold means nothing kept: neither the cache nor what the buffer keeps beside each learner's
    # version (no event is buffered yet at that point of the run).
    kept = [redis.Redis.from_url(env["REDIS_URL"]), redis.Redis.from_url(env["EVENT_BUFFER_URL"])]
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "seed": {"users": args.users, "errors_per_user": args.errors},
        "wrk": {"threads": args.threads, "connections": args.connections, "duration_s": args.duration},
        "gunicorn_workers": int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() * 2)),
    }
    with ExitStack() as stack:
        processes = Stack(env)
        stack.callback(processes.close)
        processes.gunicorn("floor", "bench.floor:application", FLOOR_PORT)
        processes.gunicorn("app", "english_tutor.wsgi:application", APP_PORT)
        processes.worker()
        floor_url, app_url = f"http://127.0.0.1:{FLOOR_PORT}/", f"http://127.0.0.1:{APP_PORT}"
        api = {"BENCH_TOKEN": token, "BENCH_USERS_FILE": users_file}

        print("Measuring the floor...", flush=True)
        results["floor"] = wrk(args, floor_url, "floor.lua")
        print("Measuring generate-exercise, cold...", flush=True)
        for store in kept:
            store.flushdb()
        # Short, so that each request asks for a learner not asked for before (the script stops at the end).
        results["generate_cold"] = wrk(args, app_url, "generate_cold.lua", duration=3, **api)
        print("Measuring generate-exercise, cold, one connection (the latency of one cold request)...", flush=True)
        for store in kept:
            store.flushdb()
        one = argparse.Namespace(**{**vars(args), "connections": 1, "threads": 1})
        results["generate_cold_1"] = wrk(one, app_url, "generate_cold.lua", duration=3, **api)
        for key, threads, connections in (("generate_cold", args.threads, args.connections), ("generate_cold_1", 1, 1)):
            # Each thread stops at the end of its slice of learners, maybe before the end of the run
            # (the requests still in flight then are not counted).
            asked = (args.users // threads) * threads
            results[key]["ran_out"] = results[key]["requests"] >= asked - connections
        warm = {**api, "BENCH_USERS_FILE": str(WORK / "users_warm.txt")}
        print("Measuring generate-exercise, warm (after asking once for each of its learners)...", flush=True)
        wrk(args, app_url, "generate_cold.lua", duration=max(5, min(args.users, args.warm_learners) // 150), **warm)
        results["generate_warm"] = wrk(args, app_url, "generate_warm.lua", **warm)
        print("Measuring error-events...", flush=True)
        results["events_single"] = wrk(args, app_url, "post_events.lua", BENCH_BATCH="1", **api)
        results["events_batch_100"] = wrk(args, app_url, "post_events.lua", BENCH_BATCH="100", **api)
        results["rss_mb"] = {
            "gunicorn_worker": peak_rss_mb(processes.processes["app"].pid),
            "celery_worker": peak_rss_mb(processes.processes["worker"].pid),
        }
        processes.stop("worker")
        started = datetime.now(UTC)
        results["buffers"] = measure_buffers(args, processes, token)
        forget_flushed(started - timedelta(minutes=1))
    results["flush"] = measure_flush(args)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    return f"{os.cpu_count()} cores ({model}), {memory} GiB"


def print_table(r: dict) -> None:
    floor = r["floor"]["rps"]
    rows = [("floor: bare DRF view", r["floor"], 1.0)]
    for key, label in [
        ("generate_warm", "generate-exercise, warm"),
        ("generate_cold", "generate-exercise, cold"),
        ("generate_cold_1", "generate-exercise, cold, 1 conn."),
        ("events_single", "POST error-events, 1 event"),
        ("events_batch_100", "POST error-events, 100 events"),
    ]:
        rows.append((label + ("*" if r[key].get("ran_out") else ""), r[key], r[key]["rps"] / floor))
    print()
    print(f"English Tutor benchmark, {r['date']}, {r['machine']}")
    print(
        f"seed {r['seed']['users']} users x {r['seed']['errors_per_user']} errors; "
        f"wrk {r['wrk']['threads']} threads, {r['wrk']['connections']} connections, {r['wrk']['duration_s']} s; "
        f"gunicorn {r['gunicorn_workers']} sync workers"
    )
    header = ("measure", "req/s", "p50 ms", "p99 ms", "events/s", "x floor", "non-2xx")
    print("{:34} {:>9} {:>8} {:>8} {:>10} {:>8} {:>8}".format(*header))
    for label, m, ratio in rows:
        events = m["rps"] * (100 if "100" in label else 1) if "error-events" in label else None
        print(
            f"{label:34} {m['rps']:9.0f} {m['p50_us'] / 1000:8.2f} {m['p99_us'] / 1000:8.2f} "
            f"{(f'{events:10.0f}' if events else ' ' * 10)} {ratio:8.2f} {m['non_2xx']:8d}"
        )
    if any(r[key].get("ran_out") for key in ("generate_cold", "generate_cold_1")):
        print(
            f"{'':4}* every one of the {r['seed']['users']} learners was asked before the end: "
            "requests/s is a lower bound (seed more learners for a full measure)"
        )
    f = r["flush"]
    print(
        f"{'flush of ' + str(f['events']) + ' events':34} {'':9} {'':8} {'':8} {f['flush_events_per_s']:10.0f} "
        f"{f['flush_events_per_s'] / f['copy_rows_per_s']:8.2f}   (floor: plain COPY {f['copy_rows_per_s']:.0f} rows/s)"
    )
    if "buffers" in r:
        print_buffers(r["buffers"], floor)
    print(
        f"peak RSS: gunicorn worker {r['rss_mb']['gunicorn_worker']:.0f} MB, "
        f"celery worker {r['rss_mb']['celery_worker']:.0f} MB"
    )
    print(f"(written to {RESULTS.relative_to(ROOT)})")


def print_buffers(buffers: dict, floor: float) -> None:
    print("the buffer, side by side (private servers, no persistence):")
    header = ("buffer", "1 event", "p50 ms", "100 events", "warm", "p50 ms", "Redis µs/ev.", "flush ev./s", "non-2xx")
    print("{:16} {:>9} {:>7} {:>11} {:>7} {:>7} {:>12} {:>20} {:>8}".format(*header))
    for name, b in buffers.items():
        single, batch, warm, flush = b["events_single"], b["events_batch_100"], b["generate_warm"], b["flush"]
        flushers = f"{flush['events_per_s']:8.0f} ({flush['flushers']} flusher{'s' if flush['flushers'] > 1 else ''})"
        print(
            f"{name:16} {single['rps'] / floor:8.2f}x {single['p50_us'] / 1000:7.2f} "
            f"{batch['rps'] * 100:11.0f} {warm['rps'] / floor:6.2f}x {warm['p50_us'] / 1000:7.2f} "
            f"{b['redis_cpu_us_per_event']:12.1f} {flushers:>20} "
            f"{sum(m['non_2xx'] for m in (single, batch, warm)):8d}"
        )
    print("    (1 event and warm: requests/s as a share of the floor; 100 events: events/s)")


if __name__ == "__main__":
    main()
