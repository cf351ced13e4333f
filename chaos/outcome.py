"""What became of the events a scenario sent: counted in PostgreSQL and the buffer once it drained."""

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from chaos.buffer_servers import BufferView
from chaos.monitor import Database


@dataclass(frozen=True)
class Tally:
    accepted: int  # distinct event ids answered 202
    stored: int  # of those, in PostgreSQL
    duplicated: int  # rows beyond one per event id, and rows whose event id was never sent
    lost: int  # accepted, and neither stored, dead-lettered nor still in the stream
    dead_lettered: int  # dead letters, of every shard
    accepted_dead: int  # accepted events among the dead letters (valid events: none should be)
    undrained: int  # accepted events still in the stream at the deadline
    unconfirmed_stored: int  # sent, never answered 202 (given up), yet stored: not a duplicate
    poison_stored: int  # events the battery injected as poison that reached PostgreSQL


def tally(*, database_url: str, buffer: BufferView, sent: set[str], accepted: set[str], poison: set[str]) -> Tally:
    """Count the fate of every event from PostgreSQL, the dead letters and what is left in the streams."""
    database = Database(database_url)
    rows = database.rows("SELECT event_id::text, count(*) FROM tutor_error GROUP BY event_id")
    database.close()
    if rows is None:
        raise RuntimeError("PostgreSQL did not answer the final count")
    copies = dict(rows)
    stored = set(copies)
    client = buffer.client(timeout=10)
    dead_letters = buffer.dead_letters(client)
    dead = event_ids(dead_letters)
    waiting = event_ids(buffer.stream_entries(client))
    return Tally(
        accepted=len(accepted),
        stored=len(accepted & stored),
        duplicated=sum(count - 1 for count in copies.values()) + len(stored - sent - poison),
        lost=len(accepted - stored - dead - waiting),
        dead_lettered=len(dead_letters),
        accepted_dead=len((accepted & dead) - stored),
        undrained=len((accepted & waiting) - stored),
        unconfirmed_stored=len((sent - accepted) & stored),
        poison_stored=len(poison & stored),
    )


def event_ids(records: Iterable[dict[bytes, bytes]]) -> set[str]:
    """Return the event ids held in stream entries or dead letters (what cannot be read holds none)."""
    ids = set()
    for fields in records:
        try:
            if b"event" in fields:  # a dead letter of one event: its values by field name, or a raw row
                rows = [orjson.loads(fields[b"event"])]
            elif b"raw" in fields:  # a dead letter of an unreadable entry
                rows = _rows(orjson.loads(orjson.loads(fields[b"raw"])["events"]))
            else:  # a stream entry
                rows = _rows(orjson.loads(fields[b"events"]))
        except (KeyError, TypeError, ValueError):
            continue
        ids.update(_event_id(row) for row in rows if _event_id(row))
    return ids


def _rows(events: object) -> list:
    """Return the rows of a stream entry's `events` (tutor/buffer/entries.py): format 2, or format 1's bare list."""
    return events["rows"] if isinstance(events, dict) else events


def _event_id(row: object) -> str | None:
    """Return the event id of a row, read by name or, in a format 1 row or a raw one, first; None if it has none."""
    if isinstance(row, dict):
        event_id = row.get("event_id")
    elif isinstance(row, list) and row:
        event_id = row[0]
    else:
        return None
    return event_id if isinstance(event_id, str) else None
