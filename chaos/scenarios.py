"""The six scenarios: what each does to the pipeline while the senders send, and what it checks besides the counts.

A scenario's `disrupt` runs in the main thread while the senders run in theirs; it records each
disruption (what was broken, from when until it served again), which the stall's bound allows for.
"""

import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis
from redis.cluster import RedisCluster

from chaos.buffer_servers import BufferView
from chaos.monitor import Database
from chaos.outcome import Tally
from chaos.services import FLUSH_APPLICATION, TOKEN_CACHE_SECONDS, Services, Stack
from chaos.traffic import Plan, Traffic
from tutor import buffer

MB = 1024 * 1024


@dataclass(frozen=True)
class Options:
    events: int  # per scenario
    send_seconds: float  # the senders' window (scenario 4 stretches it around the outage)
    learners: int
    senders: int
    batch: int
    watched: int  # learners whose rankings are compared with the truth
    worker_kills: int
    redis_kills: int
    redis_down_seconds: float
    pg_outage_seconds: float
    outage_margin_seconds: float  # traffic before and after the outage
    fill_headroom_mb: float
    drain_seconds: float  # after the senders' window: how long they may retry and the buffer may take to drain
    seed: int
    cluster: bool  # the buffer on a 3-node Redis Cluster (else one Redis)


@dataclass(frozen=True)
class Disruption:
    what: str
    began: float  # time.monotonic()
    ended: float  # when what was broken served again
    backlog: int  # stream entries waiting then: the first flush after it has them to commit

    @property
    def seconds(self) -> float:
        return self.ended - self.began


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Run:
    """One scenario's run: what its disruption acts on, and what it records."""

    options: Options
    services: Services
    stack: Stack
    traffic: Traffic
    learners: list[str]
    database_url: str
    disruptions: list[Disruption] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    poison: set[str] = field(default_factory=set)  # ids of the poison events injected
    poison_entries: int = 0  # poison stream entries injected, each worth one dead letter
    stored_after_disruption: int = 0  # rows in PostgreSQL when the last disruption ended
    worker_stopped_at: float | None = None  # time.monotonic() when a scenario stopped the worker

    def wait_until(self, fraction: float) -> None:
        """Sleep until `fraction` of the senders' window has passed."""
        due = self.traffic.started_at + fraction * self.traffic.plan.seconds
        time.sleep(max(0.0, due - time.monotonic()))


def nothing(run: Run) -> None:
    """Leave the pipeline alone."""


def no_checks(run: Run, tally: Tally) -> list[Check]:
    return []


@dataclass(frozen=True)
class Scenario:
    number: int
    name: str
    title: str
    disrupt: Callable[[Run], None]
    prepare: Callable[[Run], None] = nothing  # before the senders start
    verify: Callable[[Run, Tally], list[Check]] = no_checks  # after the drain, with the counts
    window: Callable[[Options], float] = lambda options: options.send_seconds

    def plan(self, options: Options) -> Plan:
        return Plan(events=options.events, seconds=self.window(options), senders=options.senders, batch=options.batch)


def kill_the_worker(run: Run) -> None:
    """SIGKILL the Celery worker in the middle of a flush (its COPY, when one is caught), and restart it."""
    kills = run.options.worker_kills
    for number in range(1, kills + 1):
        run.wait_until(number / (kills + 1))
        wait_for_progress(run)
        moment = catch_a_copy(run)
        began = time.monotonic()
        run.stack.kill_worker()
        run.stack.start_worker()
        recovered(run, f"worker SIGKILLed {moment}, restarted", began)


def wait_for_progress(run: Run, timeout: float = 30.0) -> None:
    """Wait until the flush stored rows since the last disruption ended, or the stream is empty.

    Each kill then interrupts a pipeline that recovered from the one before, and each stall holds
    at most one disruption. Past the timeout the next kill comes anyway (the stall shows why).
    """
    if not run.disruptions:
        return
    view = run.services.buffer.view
    database, client = Database(run.database_url), view.client()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = database.rows("SELECT count(*) FROM tutor_error")
            if rows and rows[0][0] > run.stored_after_disruption:
                return
            with suppress(redis.RedisError):
                if view.backlog(client) == 0:
                    return
            time.sleep(0.1)
    finally:
        database.close()


def recovered(run: Run, what: str, began: float) -> None:
    """Record a disruption that just ended, with the stream's backlog and the rows stored then."""
    ended, backlog = time.monotonic(), 0
    with suppress(redis.RedisError):
        view = run.services.buffer.view
        backlog = view.backlog(view.client())
    database = Database(run.database_url)
    rows = database.rows("SELECT count(*) FROM tutor_error")
    database.close()
    run.disruptions.append(Disruption(what, began, ended, backlog))
    run.stored_after_disruption = rows[0][0] if rows else 0


def catch_a_copy(run: Run, timeout: float = 5.0) -> str:
    """Wait until the worker's flush is inside its COPY; else until the stream holds entries. Say which."""
    database = Database(run.services.postgres.url("postgres"))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = database.rows(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND xact_start IS NOT NULL AND query ILIKE 'copy %%'",
                (FLUSH_APPLICATION,),
            )
            if rows and rows[0][0]:
                return "mid-COPY"
            time.sleep(0.005)
    finally:
        database.close()
    # No flush in sight (none due, or none running at all): a random moment with entries waiting.
    view = run.services.buffer.view
    client = view.client()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not view.backlog(client):
        time.sleep(0.01)
    return "with entries waiting (no COPY seen)"


def kill_the_buffer(run: Run) -> None:
    """SIGKILL the buffer's Redis (on a cluster, each time another node), and restart it on its AOF."""
    kills = run.options.redis_kills
    for number in range(1, kills + 1):
        run.wait_until(number / (kills + 1))
        wait_for_progress(run)
        began = time.monotonic()
        killed = run.services.buffer.kill(number - 1)
        time.sleep(run.options.redis_down_seconds)
        run.services.buffer.start()
        recovered(run, f"{killed} SIGKILLed, restarted on its AOF", began)


def outage_window(options: Options) -> float:
    return options.outage_margin_seconds * 2 + options.pg_outage_seconds


def stop_postgres(run: Run) -> None:
    """Stop PostgreSQL for the outage while the senders send, then start it again; POSTs must stay accepted."""
    outage = run.options.pg_outage_seconds
    time.sleep(max(0.0, run.traffic.started_at + run.options.outage_margin_seconds - time.monotonic()))
    began = time.monotonic()
    run.services.postgres.stop("fast")
    down = time.monotonic()
    time.sleep(outage)
    restarting = time.monotonic()
    run.services.postgres.start()
    recovered(run, f"PostgreSQL stopped for {outage:.0f} s", began)
    during = [a for a in run.traffic.answers_since(down) if a.at <= restarting]
    refused = [a for a in during if a.status != 202]
    beyond_token_cache = [a for a in during if a.status == 202 and a.at > down + 2 * TOKEN_CACHE_SECONDS]
    run.checks.append(
        Check(
            "POSTs accepted during the outage",
            passed=not refused and bool(beyond_token_cache),
            detail=f"{len(during) - len(refused)} of {len(during)} POSTs answered 202 while PostgreSQL was down, "
            f"{len(beyond_token_cache)} of them after twice the token cache ({TOKEN_CACHE_SECONDS} s)",
        )
    )


def stop_the_worker_and_cap_memory(run: Run) -> None:
    """Stop the worker, and cap the buffer's memory (each server's) a little above what it uses now."""
    run.stack.stop_worker()
    run.worker_stopped_at = time.monotonic()
    run.services.buffer.cap(int(run.options.fill_headroom_mb * MB))


def fill_the_buffer(run: Run) -> None:
    """Send until the full buffer answers 503 with Retry-After; restart the worker; POSTs must be accepted again."""
    full_at = wait_for_answer(run, since=run.traffic.started_at, full=True, timeout=run.traffic.plan.seconds + 30)
    run.checks.append(
        Check(
            "the full buffer answered 503 with Retry-After",
            passed=full_at is not None,
            detail="never filled" if full_at is None else f"after {full_at - run.traffic.started_at:.1f} s of traffic",
        )
    )
    if full_at is not None:
        time.sleep(2)  # refused for a while, as in production before anyone notices
    run.stack.start_worker()
    ready = time.monotonic()
    recovered(run, "worker stopped while the buffer filled, restarted", run.worker_stopped_at)
    again_at = wait_for_answer(run, since=ready, full=False, timeout=60)
    run.checks.append(
        Check(
            "POSTs accepted again once the worker is back, nobody touching Redis",
            passed=again_at is not None,
            detail="no 202 within 60 s"
            if again_at is None
            else f"first 202 {again_at - ready:.1f} s after the restart",
        )
    )


def wait_for_answer(run: Run, *, since: float, full: bool, timeout: float) -> float | None:
    """Wait for a 503 with Retry-After (`full`) or a 202 answered after `since`; return when it came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for answer in run.traffic.answers_since(since):
            if (answer.status == 503 and answer.retry_after) if full else answer.status == 202:
                return answer.at
        time.sleep(0.1)
    return None


@dataclass(frozen=True)
class Poison:
    label: str
    events: bytes  # the stream entry's `events` field
    event_id: str | None


def poison_entries(learner: str) -> list[Poison]:
    """Return stream entries the flush cannot store, each one dead letter's worth."""
    now = buffer.to_micros(datetime.now(UTC))
    year_one = buffer.to_micros(datetime(1, 1, 1, tzinfo=UTC))

    def row(label: str, user: str, category: int, sub: int, micros: int) -> Poison:
        event_id = str(uuid.uuid4())
        return Poison(label, orjson.dumps([[event_id, user, category, sub, micros]]), event_id)

    not_a_list = str(uuid.uuid4())
    return [
        Poison("garbage bytes", b"\x00\xff\xfe garbage \x81\xc3", None),
        Poison(
            "JSON that is not a list",
            orjson.dumps({"event_id": not_a_list, "user_id": learner, "errorCategory": 1, "errorSubCategory": 1}),
            not_a_list,
        ),
        row("subcategory 99999", learner, 1, 99999, now),
        row("category 1 with subcategory 9", learner, 1, 9, now),
        row("a time in year 1", learner, 1, 1, year_one),
        row("a learner that does not exist", str(uuid.uuid4()), 1, 1, now),
    ]


def inject_poison(run: Run) -> None:
    """XADD poison entries to the stream between normal traffic: half in the flow, half into a backlog.

    For the second half the worker is stopped a while, as after any hiccup, so that they land in
    full flush transactions (ERROR_FLUSH_BATCH entries) among thousands of valid events.
    """
    view = run.services.buffer.view
    client = view.client()
    entries = poison_entries(run.learners[-1])
    in_flow, in_backlog = entries[::2], entries[1::2]
    for number, poison in enumerate(in_flow, 1):
        run.wait_until(0.1 * number)
        inject(run, view, client, poison)
    run.wait_until(0.4)
    stopped = time.monotonic()
    run.stack.stop_worker()
    for number, poison in enumerate(in_backlog, 1):
        run.wait_until(0.4 + 0.1 * number)
        inject(run, view, client, poison)
    run.wait_until(0.8)
    run.stack.start_worker()
    recovered(run, "worker stopped while poison and valid events queued, restarted", stopped)


def inject(run: Run, view: BufferView, client: redis.Redis | RedisCluster, poison: Poison) -> None:
    """XADD a poison entry to the stream of the learner it was made with (on a cluster, one shard of many)."""
    run.poison_entries += 1
    if poison.event_id:
        run.poison.add(poison.event_id)
    client.xadd(view.shard_of(run.learners[-1]).stream, {"events": poison.events})


def poison_ends_dead(run: Run, tally: Tally) -> list[Check]:
    expected = run.poison_entries
    return [
        Check(
            "every poison entry ends as a dead letter",
            passed=tally.dead_lettered == expected,
            detail=f"{tally.dead_lettered} dead letters for {expected} poison entries",
        ),
        Check("no poison stored", passed=tally.poison_stored == 0, detail=f"{tally.poison_stored} stored"),
    ]


SCENARIOS = [
    Scenario(1, "baseline", "baseline", nothing),
    Scenario(2, "worker-kills", "worker SIGKILLed mid-flush", kill_the_worker),
    Scenario(3, "redis-kills", "buffer's Redis SIGKILLed", kill_the_buffer),
    Scenario(4, "postgres-outage", "PostgreSQL outage", stop_postgres, window=outage_window),
    Scenario(5, "buffer-full", "buffer filled to maxmemory", fill_the_buffer, prepare=stop_the_worker_and_cap_memory),
    Scenario(6, "poison", "poison entries in the stream", inject_poison, verify=poison_ends_dead),
]
