"""How the pipeline is doing: the stream's depth and age and the counters the scripts keep."""

from collections import Counter
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
    """Read the streams' depth and age and the pipeline's counters, summed over the shards; None without a buffer.

    A pipeline (on a cluster, sent to each node in turn), then the time of Redis's clock (a cluster
    pipeline sends no command without a key), which stamped the stream entries' ids.
    """
    if not enabled():
        return None
    r = client()
    pipe = r.pipeline(transaction=False)
    for shard in keys.shards():
        pipe.xlen(shard.stream)
        pipe.xrange(shard.stream, count=1)
        pipe.xlen(shard.dead_letters)
        pipe.hgetall(shard.stats)
    with translated_errors():
        read = pipe.execute()
        seconds, micros = r.time()
    firsts = [int(first[0][0].split(b"-")[0]) for first in read[1::4] if first]
    oldest = None
    if firsts:
        oldest = max(0.0, seconds + micros / 1e6 - min(firsts) / 1000)
    counters = Counter()
    for shard_counters in read[3::4]:
        for name, value in shard_counters.items():
            counters[name.decode()] += float(value)
    return PipelineStats(
        entries=sum(read[0::4]),
        oldest_age_seconds=oldest,
        dead_letters=sum(read[2::4]),
        accepted=int(counters["accepted"]),
        flushed=int(counters["flushed"]),
        dead_lettered=int(counters["dead_lettered"]),
        flushes=int(counters["flushes"]),
        flush_seconds_sum=counters["flush_seconds_sum"],
        flush_seconds_buckets={b: int(counters[f"flush_seconds_le_{b}"]) for b in FLUSH_SECONDS_BUCKETS},
    )
