"""How the pipeline is doing: the stream's depth and age and the counters the scripts keep."""

from dataclasses import dataclass

from tutor.buffer import keys
from tutor.buffer.connection import client, enabled, translated_errors

# Upper bounds (seconds) of the flush-duration histogram kept in keys.STATS, as Prometheus buckets.
FLUSH_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class PipelineStats:
    """How the pipeline is doing, from the buffer's own Redis (the same for every process that asks)."""

    entries: int  # stream entries (accepted requests) not yet flushed
    oldest_age_seconds: float | None  # age of the oldest of them; None when the stream is empty
    dead_letters: int  # events held in the dead-letter stream
    accepted: int  # events accepted into the buffer, since this Redis was first used
    flushed: int  # events whose flush committed (stored now, or found stored already)
    dead_lettered: int  # events sent to the dead letters
    flushes: int  # flushed batches
    flush_seconds_sum: float  # their total duration
    flush_seconds_buckets: dict[float, int]  # batches that took at most each bound (cumulative)


def pipeline_stats() -> PipelineStats | None:
    """Read the stream's depth and age and the pipeline's counters, in one round trip; None without a buffer."""
    if not enabled():
        return None
    pipe = client().pipeline(transaction=False)
    pipe.xlen(keys.STREAM)
    pipe.xrange(keys.STREAM, count=1)
    pipe.xlen(keys.DEAD_LETTERS)
    pipe.hgetall(keys.STATS)
    pipe.time()
    with translated_errors():
        entries, first, dead, counters, (seconds, micros) = pipe.execute()
    oldest = None
    if first:
        first_ms = int(first[0][0].split(b"-")[0])
        oldest = max(0.0, seconds + micros / 1e6 - first_ms / 1000)
    counters = {k.decode(): v.decode() for k, v in counters.items()}
    return PipelineStats(
        entries=entries,
        oldest_age_seconds=oldest,
        dead_letters=dead,
        accepted=int(counters.get("accepted", 0)),
        flushed=int(counters.get("flushed", 0)),
        dead_lettered=int(counters.get("dead_lettered", 0)),
        flushes=int(counters.get("flushes", 0)),
        flush_seconds_sum=float(counters.get("flush_seconds_sum", 0)),
        flush_seconds_buckets={b: int(counters.get(f"flush_seconds_le_{b}", 0)) for b in FLUSH_SECONDS_BUCKETS},
    )
