"""The buffer's Redis clients, its errors, and its generation (the id of the buffer's lifetime)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import orjson
import redis
from django.conf import settings

from tutor.buffer import keys, lua

FLUSH_TIMEOUT_SECONDS = 30


class BufferUnavailable(Exception):
    """The buffer's Redis cannot be reached."""


class BufferFull(Exception):
    """The buffer's Redis refuses writes because it reached maxmemory (noeviction)."""


def enabled() -> bool:
    """Say whether accepted events go through the buffer (else they are written straight to the database)."""
    return bool(settings.EVENT_BUFFER_URL)


def _start_generation_command() -> list:
    fresh = orjson.dumps({"generation": uuid.uuid4().hex, "bank_version": uuid.uuid4().hex})
    return ["EVAL", lua.source("start_generation"), 3, keys.GENERATION, keys.BANK_VERSION, keys.GENERATION_RUN, fresh]


# Runs on every new connection, before anything else is sent through it: the first connection to
# a restarted Redis starts a new generation before any state is read through it.
def _on_connect(connection: redis.Connection) -> None:
    connection.on_connect()
    try:
        connection.send_command(*_start_generation_command())
        connection.read_response()
    except redis.exceptions.ResponseError as exc:
        raise redis.exceptions.ConnectionError(f"could not start the buffer's generation: {exc}") from exc


def start_generation() -> tuple[bytes, bytes]:
    """Give a new (or reset) buffer its generation and bank version, unless another process just did; return both."""
    with translated_errors():
        return tuple(client().execute_command(*_start_generation_command()))


@cache
def _client(url: str, single_connection_for_pid: int | None = None, timeout: float | None = None) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.EVENT_BUFFER_TIMEOUT,
        socket_timeout=timeout or settings.EVENT_BUFFER_TIMEOUT,
        health_check_interval=30,
        single_connection_client=single_connection_for_pid is not None,
        redis_connect_func=_on_connect,
    )


def client() -> redis.Redis:
    """Return the buffer's client, with a pool of connections."""
    return _client(settings.EVENT_BUFFER_URL)


def flush_client() -> redis.Redis:
    """Return the flusher's client: a batch's claim and acknowledgement may take longer than a request may wait."""
    return _client(settings.EVENT_BUFFER_URL, timeout=FLUSH_TIMEOUT_SECONDS)


def request_client() -> redis.Redis:
    """Return the client of the calls an API request makes: one connection of this process's own, no pool.

    A forked process gets its own, never its parent's socket.
    """
    return _client(settings.EVENT_BUFFER_URL, os.getpid())


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
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise BufferUnavailable(str(exc)) from exc


def run(script: str, keys: list, args: list, client: redis.Redis | None = None):
    """Run a script of scripts/ (through the request client unless told), with the buffer's errors."""
    with translated_errors():
        return lua.run(script, client or request_client(), keys, args)
