"""The buffer under attack: one Redis with one shard, or a 3-node Redis Cluster with 16 shards.

Either way each server runs as production runs the buffer: AOF (everysec), so that a SIGKILLed
server restarts with what it had acknowledged, and noeviction, so that a full buffer refuses
writes instead of dropping events. The battery names the buffer's keys from the shards it gave
the app (`BufferView`), never from the app's settings.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tutor.buffer import keys
from tutor.tests.buffer_backends import CLUSTER_SHARDS
from tutor.tests.redis_cluster import RedisClusterServers
from tutor.tests.redis_server import RedisServer

PERSISTENCE = ("--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")


@dataclass(frozen=True)
class BufferView:
    """Where the buffer is and which keys hold its events: what the battery's readers need, in any thread."""

    ports: tuple[int, ...]  # every server (one, or the cluster's nodes)
    cluster: bool
    shards: tuple[keys.Shard, ...]

    @property
    def url(self) -> str:
        """The address the app is given: its only server, or the cluster's first node."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def environment(self) -> dict[str, str]:
        """Return the app's settings that point it at this buffer (on a cluster, at every node)."""
        others = [f"redis://127.0.0.1:{port}" for port in self.ports[1:]] if self.cluster else []
        return {
            "EVENT_BUFFER_URL": self.url,
            "EVENT_BUFFER_CLUSTER": str(self.cluster).lower(),
            "EVENT_BUFFER_CLUSTER_NODES": ",".join(others),
            "EVENT_STREAM_SHARDS": str(len(self.shards)),
        }

    def client(self, timeout: float = 2.0) -> redis.Redis | RedisCluster:
        """Return a client of the buffer; a cluster's knows every node, so that any one of them may be down."""
        if not self.cluster:
            return redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=1)
        nodes = [ClusterNode("127.0.0.1", port) for port in self.ports]
        return RedisCluster(startup_nodes=nodes, socket_timeout=timeout, socket_connect_timeout=1)

    def shard_of(self, user_id: str) -> keys.Shard:
        return self.shards[keys.shard_number(user_id, len(self.shards))]

    def backlog(self, client: redis.Redis | RedisCluster) -> int:
        """Return the entries waiting in every shard's stream (raises RedisError while a server is away)."""
        return sum(client.xlen(shard.stream) for shard in self.shards)

    def stream_entries(self, client: redis.Redis | RedisCluster) -> Iterator[dict[bytes, bytes]]:
        """Yield the fields of every entry waiting in every shard's stream."""
        for shard in self.shards:
            yield from (fields for _, fields in client.xrange(shard.stream))

    def dead_letters(self, client: redis.Redis | RedisCluster) -> list[dict[bytes, bytes]]:
        """Return the fields of every shard's dead letters."""
        return [fields for shard in self.shards for _, fields in client.xrange(shard.dead_letters)]


class BufferServers:
    """The buffer's private servers: started here, SIGKILLed, restarted, emptied and capped by the scenarios."""

    def __init__(self, workdir: Path, *, cluster: bool):
        workdir.mkdir(parents=True)
        # A relative log file lands in each server's own directory (redis-server changes to it first).
        options = (*PERSISTENCE, "--logfile", "redis.log")
        if cluster:
            self._cluster = RedisClusterServers(workdir, *options)
            self.servers = self._cluster.nodes
        else:
            self._cluster = None
            self.servers = [RedisServer(workdir, *options)]
        count = CLUSTER_SHARDS if cluster else 1
        self.view = BufferView(
            ports=tuple(server.port for server in self.servers),
            cluster=cluster,
            shards=keys.layout(count, tagged=cluster),
        )

    def describe(self) -> str:
        if self._cluster is None:
            return "one Redis, one shard"
        return f"a {len(self.servers)}-node Redis Cluster, {len(self.view.shards)} shards"

    def kill(self, number: int) -> str:
        """SIGKILL one server (on a cluster, each kill the next node); say which."""
        index = number % len(self.servers)
        self.servers[index].stop()
        return "buffer's Redis" if self._cluster is None else f"cluster node {index + 1} of {len(self.servers)}"

    def start(self) -> None:
        """Start every server that is down again, on its AOF (and node file), and wait until all serve."""
        for server in self.servers:
            if server.process.poll() is not None:
                server.start()
        if self._cluster is not None:
            self._cluster.wait_until_ok()

    def empty(self) -> None:
        """Empty every server and lift any maxmemory a scenario set (no app process may be running)."""
        for server in self.servers:
            client = redis.Redis(port=server.port)
            client.flushall()
            client.config_set("maxmemory", 0)

    def cap(self, headroom_bytes: int) -> None:
        """Cap the buffer's memory a little above what it uses now: each server gets its share of the headroom."""
        for server in self.servers:
            client = redis.Redis(port=server.port)
            used = client.info("memory")["used_memory"]
            client.config_set("maxmemory", used + headroom_bytes // len(self.servers))

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
