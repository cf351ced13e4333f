"""The buffer's Redis clients, its errors, and its generation (the id of the buffer's lifetime)."""

import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TypeVar
from urllib.parse import urlsplit

import orjson
import redis
from django.conf import settings
from redis.cluster import ClusterNode, RedisCluster

from tutor.buffer import keys, lua

FLUSH_TIMEOUT_SECONDS = 30

T = TypeVar("T")


class BufferUnavailable(Exception):
    """The buffer's Redis cannot be reached."""


class BufferFull(Exception):
    """The buffer's Redis refuses writes because it reached maxmemory (noeviction)."""


def enabled() -> bool:
    """Say whether accepted events go through the buffer (else they are written straight to the database)."""
    return bool(settings.EVENT_BUFFER_URL)


def _generation_keys(shard: keys.Shard) -> list[str]:
    return [shard.generation, shard.bank_version, shard.generation_run]


def _fresh_ids() -> bytes:
    return orjson.dumps({"generation": uuid.uuid4().hex, "bank_version": uuid.uuid4().hex})


def _start_generation_command(shard: keys.Shard) -> list:
    return ["EVAL", lua.source("start_generation"), 3, *_generation_keys(shard), _fresh_ids()]


# A node of a cluster answers these for a shard another node serves (or none, while it is down).
_NOT_THIS_NODES = (
    redis.exceptions.AskError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
)


# Runs on every new connection, before anything else is sent through it: the first connection to
# a restarted Redis (or cluster node) starts a new generation of each shard it serves, before any
# state is read through it. The shards of other nodes are theirs to start: their answer is skipped.
def _start_generations(connection: redis.Connection) -> None:
    commands = [_start_generation_command(shard) for shard in keys.shards()]
    connection.send_packed_command(connection.pack_commands(commands))
    problem = None
    for _ in commands:  # every answer is read, so that none is left for the next command
        try:
            connection.read_response()
        except _NOT_THIS_NODES:
            continue
        except redis.exceptions.ResponseError as exc:
            problem = exc
    if problem is not None:
        raise redis.exceptions.ConnectionError(f"could not start the buffer's generation: {problem}") from problem


def _on_connect(connection: redis.Connection) -> None:
    connection.on_connect()
    _start_generations(connection)


def start_generation(shard: keys.Shard) -> tuple[bytes, bytes]:
    """Give a new (or reset) shard its generation and bank version, unless another process just did; return both."""
    with translated_errors():
        return tuple(lua.run("start_generation", client(), _generation_keys(shard), [_fresh_ids()]))


@dataclass(frozen=True)
class _Address:
    """Where the buffer is: its URL and, on a cluster, the other nodes the client may find it through."""

    url: str
    cluster: bool
    other_nodes: tuple[str, ...]


def _address() -> _Address:
    return _Address(
        settings.EVENT_BUFFER_URL, settings.EVENT_BUFFER_CLUSTER, tuple(settings.EVENT_BUFFER_CLUSTER_NODES)
    )


@cache
def _client(
    address: _Address, single_connection_for_pid: int | None = None, timeout: float | None = None
) -> redis.Redis | RedisCluster:
    options = {
        "socket_connect_timeout": settings.EVENT_BUFFER_TIMEOUT,
        "socket_timeout": timeout or settings.EVENT_BUFFER_TIMEOUT,
        "health_check_interval": 30,
    }
    if address.cluster:
        # A pool per node, in each process of its own (the pid is part of the cache's key). The
        # client starts from whichever of the URL's node and the other nodes answers.
        others = [urlsplit(node) for node in address.other_nodes]
        nodes = [ClusterNode(node.hostname, node.port or 6379) for node in others]
        return RedisCluster.from_url(address.url, startup_nodes=nodes, redis_connect_func=_start_generations, **options)
    return redis.Redis.from_url(
        address.url,
        single_connection_client=single_connection_for_pid is not None,
        redis_connect_func=_on_connect,
        **options,
    )


def client() -> redis.Redis | RedisCluster:
    """Return the buffer's client, with a pool of connections (on a cluster, a pool per node)."""
    with translated_errors():  # a cluster client asks for the cluster's nodes when it is made
        return _client(_address())


def flush_client() -> redis.Redis | RedisCluster:
    """Return the flusher's client: a batch's claim and acknowledgement may take longer than a request may wait."""
    with translated_errors():  # a cluster client asks for the cluster's nodes when it is made
        return _client(_address(), timeout=FLUSH_TIMEOUT_SECONDS)


def request_client() -> redis.Redis | RedisCluster:
    """Return the client of the calls an API request makes: one connection of this process's own, no pool.

    On a cluster, one pool per node, of this process's own. A forked process gets its own, never its
    parent's sockets.
    """
    with translated_errors():  # a cluster client asks for the cluster's nodes when it is made
        return _client(_address(), os.getpid())


def by_node(items: Iterable[T], key: Callable[[T], str]) -> list[list[T]]:
    """Group items by the node that serves their key (all in one group on one Redis).

    A pipeline per group then fails only with its own node: on a cluster with a node down, what the
    other nodes serve is still written and read.
    """
    items = list(items)
    try:
        r = client()
    except BufferUnavailable:  # no node answers: one group, which fails as a whole
        r = None
    if not isinstance(r, RedisCluster) or not items:
        return [items] if items else []
    groups = defaultdict(list)
    for item in items:
        groups[r.get_node_from_key(key(item)).name].append(item)
    return list(groups.values())


@contextmanager
def translated_errors() -> Iterator[None]:
    """Raise BufferFull or BufferUnavailable for Redis's own errors of a full or unreachable buffer."""
    try:
        yield
    except redis.exceptions.OutOfMemoryError as exc:
        raise BufferFull(str(exc)) from exc
    except redis.exceptions.ExecAbortError as exc:
        if "OOM" in str(exc):
            raise BufferFull(str(exc)) from exc
        raise
    except (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        # A cluster whose node serving the key is down, or that serves none of the key's slot.
        redis.exceptions.ClusterDownError,
        redis.exceptions.SlotNotCoveredError,
    ) as exc:
        raise BufferUnavailable(str(exc)) from exc
    except redis.exceptions.RedisClusterException as exc:
        # A cluster client that reached none of the nodes it knows (a misuse is raised as it is).
        if "cannot be connected" not in str(exc):
            raise
        raise BufferUnavailable(str(exc)) from exc


def run(script: str, keys: list, args: list, client: redis.Redis | RedisCluster | None = None):
    """Run a script of scripts/ (through the request client unless told), with the buffer's errors."""
    with translated_errors():
        return lua.run(script, client or request_client(), keys, args)
