"""The stream entry's wire format: how a request's events are written to the stream and read back.

An entry has one field, `events`, holding JSON. Format 2, written since this release, names the
fields once and holds one row of values per event, in the order named:

    {"format": 2, "fields": ["event_id", "user_id", "category", "subcategory", "micros"],
     "rows": [["<uuid>", "<uuid>", 1, 3, 1767225600000000], ...]}

Format 1, written by the release before, is a bare list of rows in the order of FORMAT_1_FIELDS.
Both are read, so that entries that release left in the stream are flushed after a rolling
deploy. Every reader goes by field name, never by position: `decode` here (which finds each name's place
once per entry) and scripts/push.lua.
"""

import operator
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from tutor.buffer.events import EARLIEST_EVENT_TIME, BufferedEvent, to_micros
from tutor.taxonomy import CATEGORY_OF

FORMAT = 2
FIELDS = BufferedEvent._fields
FORMAT_1_FIELDS = ("event_id", "user_id", "category", "subcategory", "micros")

# The times an event may have: from EARLIEST_EVENT_TIME (the API refuses earlier ones) to what a
# datetime can hold, with a day to spare for time zones.
_MICROS_MIN = to_micros(EARLIEST_EVENT_TIME)
_MICROS_MAX = to_micros(datetime(9999, 12, 30, tzinfo=UTC))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Entry:
    """One stream entry: the events of one accepted request that can be stored, and those that cannot."""

    id: str
    events: list[BufferedEvent]
    # (row as read, why it cannot be stored): the row's values by field name, or the row as it is
    # when it is no list of one value per field.
    refused: list[tuple[object, str]] = field(default_factory=list)
    problem: str | None = None  # why the entry could not be split into rows at all
    raw: dict | None = None


def encode(events: list[BufferedEvent]) -> bytes:
    """Return the `events` field of a stream entry holding these events."""
    return orjson.dumps({"format": FORMAT, "fields": FIELDS, "rows": [tuple(event) for event in events]})


def decode(entry_id: bytes, fields: dict | None) -> Entry:
    """Return the entry, its rows read by field name (either format), each an event or refused with why."""
    entry_id = entry_id.decode()
    if not fields:
        return Entry(entry_id, [], problem="entry vanished from the stream", raw={})
    raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    try:
        names, rows = _names_and_rows(orjson.loads(fields[b"events"]))
    except (KeyError, ValueError) as exc:
        return Entry(entry_id, [], problem=f"unreadable entry: {exc!r}", raw=raw)
    entry = Entry(entry_id, [], raw=raw)
    # The names are looked up once per entry; each row is then read in FIELDS order.
    in_fields_order = operator.itemgetter(*(names.index(name) for name in FIELDS))
    for row in rows:
        if type(row) is not list or len(row) != len(names):
            entry.refused.append((row, f"not an event row of {len(names)} values: {row!r}"))
            continue
        try:
            entry.events.append(checked_event(*in_fields_order(row)))
        except ValueError as exc:
            entry.refused.append((dict(zip(names, row, strict=True)), str(exc)))
    return entry


def _names_and_rows(events: object) -> tuple[tuple[str, ...], list]:
    """Return the field names of the rows and the rows, of an entry's `events` in either format."""
    if type(events) is list:
        return FORMAT_1_FIELDS, events
    if type(events) is not dict or events.get("format") != FORMAT:
        raise ValueError("events is neither a list of rows (format 1) nor an object of format 2")
    names, rows = events.get("fields"), events.get("rows")
    if not (type(names) is list and all(type(name) is str for name in names) and type(rows) is list):
        raise ValueError("format 2 events without a list of field names and a list of rows")
    if len(set(names)) != len(names) or not set(FIELDS) <= set(names):
        raise ValueError(f"format 2 events whose fields do not name each of {FIELDS} once: {names!r}")
    return tuple(names), rows


def checked_event(
    event_id: object, user_id: object, category: object, subcategory: object, micros: object
) -> BufferedEvent:
    """Return the values (those of FIELDS) as an event PostgreSQL will take, or raise ValueError saying why not."""
    # Checked here rather than parsed into UUID objects: this is the flush's hottest loop, and
    # only well-formed text may reach COPY.
    if not (type(event_id) is str and _UUID.fullmatch(event_id)):
        raise ValueError(f"event_id is not a UUID: {event_id!r}")
    if not (type(user_id) is str and _UUID.fullmatch(user_id)):
        raise ValueError(f"user_id is not a UUID: {user_id!r}")
    if not (type(category) is int and type(subcategory) is int and CATEGORY_OF.get(subcategory) == category):
        raise ValueError(f"no such pair: errorCategory {category!r}, errorSubCategory {subcategory!r}")
    if not (type(micros) is int and _MICROS_MIN <= micros <= _MICROS_MAX):
        raise ValueError(f"time out of range: {micros!r} µs since 1970")
    return BufferedEvent(event_id=event_id, user_id=user_id, category=category, subcategory=subcategory, micros=micros)


def pending_member(row: object) -> tuple[str, str] | None:
    """Return (user_id, member) that the push script added for this row as read, or None if it added none.

    The same member as scripts/lib/pending.lua builds. The push script builds members only from
    rows our encoder wrote: text ids and an integer subcategory; a row of any other shape could
    not have come through it.
    """
    if type(row) is BufferedEvent:
        event_id, user_id, sub = row.event_id, row.user_id, row.subcategory
    elif type(row) is dict and row.keys() >= set(FIELDS):
        event_id, user_id, sub = row.get("event_id"), row.get("user_id"), row.get("subcategory")
    else:
        return None
    if type(event_id) is str and type(user_id) is str and type(sub) is int:
        return user_id, f"{event_id}:{sub}"
    return None
