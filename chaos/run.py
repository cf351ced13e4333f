"""`make chaos`: break the real-time pipeline in six ways under load, and check that nothing accepted is lost.

Runs against private servers only (a PostgreSQL cluster and two redis-servers on free ports of
127.0.0.1, never the shared ones on 5432 and 6379), with the production configuration: gunicorn
(`english_tutor/gunicorn.py`, 4 workers), DEBUG off, a Celery worker (`--pool solo`) and beat,
ERROR_FLUSH_INTERVAL=1, TOKEN_CACHE_SECONDS=5. The buffer's Redis runs with AOF (everysec) and
noeviction; Celery's broker and the cache have a Redis of their own. With --cluster the buffer is
a 3-node Redis Cluster (each node so configured) holding 16 shards, and every scenario runs on it.

Each scenario gets a fresh database (a copy of one template holding the exercise bank and the
learners, migrated, with a new staff API client) and emptied Redis servers, and sends its events
from 4 concurrent senders in batches of 100, each event with its own uuid4, 10% of the requests
sent twice, and every request answered 503/429/5xx/not at all retried with the same events:

1. baseline
2. the Celery worker SIGKILLed 4 times in the middle of a flush (its COPY, when caught), restarted
3. the buffer's Redis SIGKILLed 3 times, restarted on its AOF (on a cluster, each node once)
4. PostgreSQL stopped (--pg-outage-seconds, default 300) while the senders send, then started
5. the worker stopped and the buffer (each node) capped near its use until it answers 503 with Retry-After;
   the worker restarted: the buffer must drain and POSTs be accepted again, nobody touching Redis
6. poison entries XADDed to the stream between normal traffic, half of them into a backlog (the
   worker stopped a while) so that they land in full flush transactions: all must end as dead
   letters, and every valid event be stored

After the buffer drained (or the deadline passed), it counts: accepted (distinct event ids
answered 202), stored (of those, in PostgreSQL), duplicated (rows beyond one per event id, and
rows whose event id was never sent: a batch given up after sending may be stored, that is no
duplicate), lost (accepted, neither stored nor dead-lettered nor still in the stream),
dead-lettered (XLEN of the dead letters); the longest stall of the flush (the stream holding
entries while the stored count does not grow, sampled every 0.25 s); and the longest continuous
disagreement of a ranking with PostgreSQL + the pending buffer (a few learners, every 0.5 s).

It prints one table (a scenario a row) and writes chaos/results.json. It fails (exit status 1)
on any loss, duplicate, accepted event left in the buffer or dead-lettered, batch never
accepted, failed scenario check (POSTs accepted throughout the outage; the full buffer answering
503 with Retry-After, then accepting again; every poison entry dead-lettered, none stored), or
bound passed:
- stall <= 2 x ERROR_FLUSH_INTERVAL + STALL_SLACK_SECONDS + the scenario's longest disruption (a
  killed worker until it is ready again, the buffer's Redis until it answers again, PostgreSQL's
  outage until it is back, the worker stopped while the buffer filled until it is back) with its
  catch-up: the entries waiting when it ended, up to one flush transaction's (ERROR_FLUSH_BATCH),
  at FLUSH_FLOOR_EVENTS_PER_SECOND;
- disagreement <= DISAGREEMENT_BOUND_SECONDS.
"""

import argparse
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.run import machine
from chaos.buffer_servers import BufferView
from chaos.monitor import FlushWatcher, RankingWatcher, longest_stall
from chaos.outcome import tally
from chaos.report import DisruptionRecord, ScenarioResult, print_table, write_json
from chaos.scenarios import SCENARIOS, Check, Options, Run, Scenario
from chaos.services import ERROR_FLUSH_INTERVAL, Services, Stack, Template, prepare_template, private_services
from chaos.traffic import Traffic

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "chaos" / ".work"
RESULTS = {False: ROOT / "chaos" / "results.json", True: ROOT / "chaos" / "results-cluster.json"}

# A flush runs every ERROR_FLUSH_INTERVAL; the slack covers the sampling period, a flush's own
# run, and scheduling on a busy machine.
STALL_SLACK_SECONDS = 1.0
# After a disruption, the first flush commits what waited meanwhile, up to ERROR_FLUSH_BATCH stream
# entries in one transaction; it must move at least this many events a second doing so (batches
# holding retried ids take the slower merge path).
FLUSH_FLOOR_EVENTS_PER_SECOND = 4_000
# A right ranking never disagrees (the truth is read on both sides of it); this allows a few
# samples of a cached answer that is being replaced.
DISAGREEMENT_BOUND_SECONDS = 3.0
# Once drained, every watched ranking must agree within this.
SETTLE_SECONDS = 10.0

FULL = {"events": 100_000, "send_seconds": 40.0, "pg_outage_seconds": 300.0, "fill_headroom_mb": 5.0}
QUICK = {"events": 10_000, "send_seconds": 15.0, "pg_outage_seconds": 20.0, "fill_headroom_mb": 1.0}


def parse_args() -> tuple[Options, list[Scenario]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events a scenario, a 20 s outage (development).")
    parser.add_argument("--events", type=int, help="Events per scenario (default 100,000; --quick 10,000).")
    parser.add_argument("--send-seconds", type=float, help="The senders' window (default 40; --quick 15).")
    parser.add_argument("--pg-outage-seconds", type=float, help="PostgreSQL's outage (default 300; --quick 20).")
    parser.add_argument(
        "--fill-headroom-mb", type=float, help="maxmemory above use in scenario 5 (default 5; --quick 1)."
    )
    parser.add_argument("--cluster", action="store_true", help="The buffer on a 3-node Redis Cluster, 16 shards.")
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100, help="Events per request.")
    parser.add_argument("--watched", type=int, default=4, help="Learners whose rankings are compared with the truth.")
    parser.add_argument("--worker-kills", type=int, default=4)
    parser.add_argument("--redis-kills", type=int, default=3)
    parser.add_argument("--redis-down-seconds", type=float, default=2.0, help="How long the killed Redis stays down.")
    parser.add_argument(
        "--outage-margin-seconds", type=float, default=10.0, help="Traffic before and after the outage."
    )
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="After the window: retries and the drain.")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument(
        "--only", help="Comma-separated scenario numbers or names to run (default all), e.g. --only 1,poison."
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    options = Options(
        events=args.events or sizes["events"],
        send_seconds=args.send_seconds or sizes["send_seconds"],
        learners=args.learners,
        senders=args.senders,
        batch=args.batch,
        watched=args.watched,
        worker_kills=args.worker_kills,
        redis_kills=args.redis_kills,
        redis_down_seconds=args.redis_down_seconds,
        pg_outage_seconds=args.pg_outage_seconds or sizes["pg_outage_seconds"],
        outage_margin_seconds=args.outage_margin_seconds,
        fill_headroom_mb=args.fill_headroom_mb or sizes["fill_headroom_mb"],
        drain_seconds=args.drain_seconds,
        seed=args.seed,
        cluster=args.cluster,
    )
    wanted = set(args.only.split(",")) if args.only else None
    chosen = [s for s in SCENARIOS if wanted is None or str(s.number) in wanted or s.name in wanted]
    if not chosen:
        parser.error(f"--only names no scenario of {', '.join(s.name for s in SCENARIOS)}")
    return options, chosen


def stall_bound(run: Run, template: Template) -> float:
    """Return the scenario's bound on a stall: two intervals, the slack, and its longest disruption with catch-up."""
    events_per_entry = run.traffic.plan.batch
    longest = max(
        (
            d.seconds + min(d.backlog, template.flush_batch) * events_per_entry / FLUSH_FLOOR_EVENTS_PER_SECOND
            for d in run.disruptions
        ),
        default=0.0,
    )
    return round(2 * ERROR_FLUSH_INTERVAL + STALL_SLACK_SECONDS + longest, 2)


def run_scenario(scenario: Scenario, options: Options, services: Services, template: Template) -> ScenarioResult:
    """Run one scenario on a fresh database and emptied buffers, and count what became of its events."""
    began = time.monotonic()
    result = ScenarioResult(scenario.number, scenario.name, scenario.title, seconds=0.0)
    logs = WORK / f"{scenario.number}-{scenario.name}"
    logs.mkdir(parents=True)
    print(f"\n== {scenario.number} {scenario.title} (logs in {logs.relative_to(ROOT)})", flush=True)
    services.empty_buffers()
    database = f"chaos_{scenario.number}"
    token = services.fresh_database(database, logs)
    database_url = services.postgres.url(database)
    with Stack(services.environment(database), logs) as stack:
        stack.start()
        plan = scenario.plan(options)
        traffic = Traffic(
            url=stack.url,
            token=token,
            learners=template.learners,
            plan=plan,
            seed=options.seed + scenario.number,
        )
        run = Run(options, services, stack, traffic, template.learners, database_url)
        flush = FlushWatcher(buffer=services.buffer.view, database_url=database_url)
        ranking = RankingWatcher(
            api_url=stack.url,
            token=token,
            learners=template.learners[: options.watched],
            buffer=services.buffer.view,
            database_url=database_url,
        )
        flush.start()
        ranking.start()
        try:
            scenario.prepare(run)
            deadline = time.monotonic() + plan.seconds + options.drain_seconds
            print(f"   sending {plan.events:,} events over {plan.seconds:.0f} s...", flush=True)
            traffic.start(give_up_at=deadline)
            scenario.disrupt(run)
            traffic.wait(until=deadline)
            drained = wait_drained(services.buffer.view, until=deadline)
            print(f"   senders done; buffer {'drained' if drained else 'NOT drained by the deadline'}", flush=True)
            run.checks.append(settle(ranking))
        finally:
            traffic.stop()
            flush.stop()
            ranking.stop()
        result.tally = tally(
            database_url=database_url,
            buffer=services.buffer.view,
            sent=traffic.sent,
            accepted=traffic.accepted,
            poison=run.poison,
        )
        result.checks = run.checks + scenario.verify(run, result.tally)
    stall = longest_stall(flush.samples)
    disagreement = ranking.longest()
    start = traffic.started_at
    result.stall, result.stall_bound = round(stall.seconds, 2), stall_bound(run, template)
    result.stall_at = round(stall.started_at - start, 2) if stall.seconds else None
    result.disagreement, result.disagreement_bound = round(disagreement.seconds, 2), DISAGREEMENT_BOUND_SECONDS
    result.disagreeing_learner = disagreement.learner
    result.disagreement_at = round(disagreement.started_at - start, 2) if disagreement.started_at else None
    verdicts = Counter(agrees for samples in ranking.samples.values() for _, agrees in samples)
    result.ranking_samples = {"agree": verdicts[True], "disagree": verdicts[False], "unknown": verdicts[None]}
    result.answers = {str(status): n for status, n in sorted(Counter(a.status for a in traffic.answers).items())}
    result.abandoned = traffic.abandoned
    result.disruptions = [
        DisruptionRecord(d.what, round(d.began - start, 2), round(d.seconds, 2), d.backlog) for d in run.disruptions
    ]
    result.problems = [f"a sender crashed: {crash}" for crash in traffic.crashes]
    result.seconds = round(time.monotonic() - began, 1)
    return result


def wait_drained(view: BufferView, *, until: float) -> bool:
    """Wait until every shard's stream is empty (the buffer answering), or `until` passed."""
    client = view.client()
    while time.monotonic() < until:
        try:
            if view.backlog(client) == 0:
                return True
        except Exception:  # the Redis is restarting: ask again
            pass
        time.sleep(0.25)
    return False


def settle(ranking: RankingWatcher) -> Check:
    """Wait until every watched ranking's latest known sample agrees with the truth."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        latest = [next((a for _, a in reversed(s) if a is not None), None) for s in ranking.samples.values()]
        if all(latest):
            return Check("rankings agree once drained", True, "")
        time.sleep(0.5)
    return Check("rankings agree once drained", False, f"still disagreeing {SETTLE_SECONDS:.0f} s after the drain")


def failed_run(scenario: Scenario, began: float) -> ScenarioResult:
    result = ScenarioResult(scenario.number, scenario.name, scenario.title, seconds=round(time.monotonic() - began, 1))
    result.problems = [f"the harness failed: {traceback.format_exc().strip().splitlines()[-1]}"]
    traceback.print_exc()
    return result


def main() -> None:
    options, chosen = parse_args()
    # Ctrl-C and SIGTERM unwind through every `finally`, which stop what this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    started = datetime.now(UTC)
    results = []
    with private_services(WORK, cluster=options.cluster) as services:
        print("Preparing the template database (migrate, exercises, learners)...", flush=True)
        template = prepare_template(services, learners=options.learners, logs=WORK)
        buffer = services.buffer.describe()
        for scenario in chosen:
            began = time.monotonic()
            try:
                results.append(run_scenario(scenario, options, services, template))
            except Exception:
                results.append(failed_run(scenario, began))
    header = (
        f"English Tutor chaos battery, {started:%Y-%m-%d %H:%M} UTC, {machine()}; "
        f"{options.events:,} events a scenario from {options.senders} senders; the buffer on {buffer}"
    )
    results_file = RESULTS[options.cluster]
    print_table(results, header)
    write_json(
        results_file,
        results,
        date=f"{started:%Y-%m-%d %H:%M} UTC",
        machine=machine(),
        buffer=buffer,
        options=asdict(options),
        bounds={
            "stall": "2 x ERROR_FLUSH_INTERVAL + STALL_SLACK_SECONDS + the scenario's longest disruption "
            "+ min(entries waiting after it, ERROR_FLUSH_BATCH) x events per entry / FLUSH_FLOOR_EVENTS_PER_SECOND",
            "error_flush_interval": ERROR_FLUSH_INTERVAL,
            "stall_slack_seconds": STALL_SLACK_SECONDS,
            "error_flush_batch": template.flush_batch,
            "flush_floor_events_per_second": FLUSH_FLOOR_EVENTS_PER_SECOND,
            "disagreement_seconds": DISAGREEMENT_BOUND_SECONDS,
        },
    )
    print(f"(written to {results_file.relative_to(ROOT)})")
    sys.exit(1 if any(r.failures for r in results) else 0)


if __name__ == "__main__":
    main()
