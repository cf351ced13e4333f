"""What tests of the pipeline need to run alike on one Redis and on a cluster: raw access to its keys, by shard."""

from django.conf import settings

from tutor import buffer

# The shards of the buffer on the tests' cluster: a few on each of its three nodes.
CLUSTER_SHARDS = 16


def raw_entry(fields: dict, *, user_id=None) -> str:
    """Add a stream entry as a client of the buffer's Redis could, bypassing every check; return its id.

    It goes to the stream of the learner's shard (the first shard's without a learner).
    """
    shard = buffer.keys.shard_of(user_id) if user_id else buffer.shards()[0]
    return buffer.client().xadd(shard.stream, fields).decode()


def pending_keys() -> list:
    """Return the keys of every learner's pending set, of every shard (on a cluster, on every node)."""
    return [key for shard in buffer.shards() for key in buffer.client().scan_iter(match=shard.pending("*"))]


def buffer_environment() -> dict[str, str]:
    """Return the environment that points a process of its own (a worker, a command) at the test's buffer."""
    return {
        "EVENT_BUFFER_URL": settings.EVENT_BUFFER_URL,
        "EVENT_BUFFER_CLUSTER": str(settings.EVENT_BUFFER_CLUSTER).lower(),
        "EVENT_STREAM_SHARDS": str(settings.EVENT_STREAM_SHARDS),
    }
