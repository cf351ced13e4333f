"""Whatever the stream holds, one flush drains it: each valid event stored once, each bad one a dead letter.

And whatever PostgreSQL refuses of a batch, in any combination, it refuses alone: the rest is stored.
"""

import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.core.cache import cache
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from tutor import buffer, ingest
from tutor.buffer import Event
from tutor.models import Error, EventReceipt, User
from tutor.ranking import top_errors
from tutor.taxonomy import CATEGORY_OF
from tutor.tests.buffer_backends import pending_keys
from tutor.tests.buffer_backends import raw_entry as add_raw_entry
from tutor.tests.factories import UserFactory

# Fixed ids, short enough to read in a falsifying example; each example deletes and recreates the learners.
LEARNERS = [uuid.UUID(int=0xA0 + n) for n in range(3)]
DELETED = uuid.UUID(int=0xDE)  # a learner deleted after its events were accepted
UNKNOWN = uuid.UUID(int=0x404)  # no learner ever had this id
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FLUSH_SECONDS = 20  # a flush that never ends fails the drain check instead of hanging the suite

pytestmark = pytest.mark.usefixtures("buffer_backend")


# The stream entry's wire format (tutor/buffer/entries.py), known here and nowhere else in this file.
FIELDS = ["event_id", "user_id", "category", "subcategory", "micros"]


def raw_row(event: Event, **changes) -> list:
    """Return the event as a row of a stream entry, with `changes` (BufferedEvent fields) made to it."""
    values = event.buffered()._replace(**changes)._asdict()
    return [values[name] for name in FIELDS]


def raw_entry(rows: list, wire_format: int) -> dict:
    """Return the fields of a stream entry holding these rows: format 2, or format 1 as the release before wrote."""
    if wire_format == 1:
        return {"events": orjson.dumps(rows)}
    return {"events": orjson.dumps({"format": 2, "fields": FIELDS, "rows": rows})}


def entry_rows(fields: dict) -> list | None:
    """Return the rows of a stream entry as the flush reads them (values by field name), None if it holds no rows."""
    events = orjson.loads(fields[b"events"])
    if isinstance(events, list):
        names, rows = FIELDS, events
    elif isinstance(events, dict) and events.get("format") == 2:
        names, rows = events["fields"], events["rows"]
    else:
        return None
    return [
        dict(zip(names, row, strict=True)) if isinstance(row, list) and len(row) == len(names) else row for row in rows
    ]


def letter_row(letter: dict) -> object:
    """Return the event row a dead letter holds, as it was in its entry."""
    return orjson.loads(letter["event"])


# What a dead letter's reason must mention (case-insensitive) to name what is wrong with its row or entry.
NAMED = {
    "unknown learner": r"user|learner",
    "deleted learner": r"user|learner",
    "malformed id": r"\bids?\b|uuid|event_id|user_id",
    "number out of range": r"range|categor|check",
    "mismatched pair": r"pair|categor|check|belong",
    "time out of range": r"time|range|date|year",
    "malformed number": r"number|int|type|categor",
    "malformed time": r"time|micros|number|int|type",
    "malformed row": r"row|field|length|values|unpack|malformed",
    "unreadable entry": r"unreadable|json|events|list|row|malformed|decode|format",
}


@dataclass(frozen=True)
class Valid:
    """A new event of learner LEARNERS[learner]; with `stored_before`, a retry of one PostgreSQL holds already."""

    learner: int
    subcategory: int
    minutes_ago: int
    stored_before: bool = False


@dataclass(frozen=True)
class Again:
    """The same event as the n-th valid one written before (modulo their count): a retry, stored once."""

    n: int


@dataclass(frozen=True)
class Poison:
    """An event of learner LEARNERS[0] with something wrong that an Event can carry, which no flush can store."""

    what: str  # a key of NAMED
    changes: tuple[tuple[str, object], ...]  # Event fields


@dataclass(frozen=True)
class BadRow:
    """A row of learner LEARNERS[0] with something wrong that only a raw row can carry (Raw entries only)."""

    what: str  # a key of NAMED
    changes: tuple[tuple[str, object], ...] = ()  # BufferedEvent fields
    length: int = 5  # the row cut, or padded with nulls, to this many fields


@dataclass(frozen=True)
class Pushed:
    """An entry written by buffer.push, as accepted requests are: its events are pending for their users."""

    rows: tuple


@dataclass(frozen=True)
class Raw:
    """An entry of rows XADDed as they are: values an Event cannot carry, and no pending members."""

    rows: tuple
    wire_format: int = 2  # 1: as the release before wrote entries


@dataclass(frozen=True)
class Unreadable:
    """An entry that cannot be split into event rows at all."""

    fields: tuple[tuple[bytes, bytes], ...]


minutes = st.integers(min_value=0, max_value=60 * 24 * 365 * 20)
valid = st.builds(Valid, st.integers(0, len(LEARNERS) - 1), st.integers(1, 12), minutes, st.booleans())
again = st.builds(Again, st.integers(0, 50))
# Out-of-range times still within a datetime, so that an Event carries them.
year_one = datetime(1, 1, 1, tzinfo=UTC)
year_9999 = datetime(9999, 12, 31, 12, tzinfo=UTC)
POISONS = [
    Poison("unknown learner", (("user_id", UNKNOWN),)),
    Poison("deleted learner", (("user_id", DELETED),)),
    Poison("malformed id", (("event_id", "not-a-uuid"),)),
    Poison("malformed id", (("event_id", "12345"),)),
    Poison("malformed id", (("user_id", "nobody"),)),
    Poison("number out of range", (("subcategory", 99999),)),
    Poison("number out of range", (("category", -1),)),
    Poison("number out of range", (("category", 70000),)),
    Poison("number out of range", (("category", 2), ("subcategory", -5))),
    Poison("mismatched pair", (("category", 1), ("subcategory", 9))),
    Poison("mismatched pair", (("category", 2), ("subcategory", 3))),
    Poison("mismatched pair", (("category", 4), ("subcategory", 13))),
    Poison("mismatched pair", (("category", 0), ("subcategory", 0))),
    Poison("time out of range", (("timestamp", year_one),)),
    Poison("time out of range", (("timestamp", year_9999),)),
]
BAD_ROWS = [
    BadRow("malformed id", (("event_id", 12345),)),
    BadRow("malformed id", (("user_id", 7),)),
    BadRow("malformed id", (("event_id", None),)),
    BadRow("malformed number", (("category", "1"),)),
    BadRow("malformed number", (("subcategory", 3.0),)),
    BadRow("malformed number", (("category", True),)),
    BadRow("malformed number", (("subcategory", [3]),)),
    BadRow("time out of range", (("micros", 2**62),)),
    BadRow("time out of range", (("micros", -(2**62)),)),
    BadRow("malformed time", (("micros", 1.7e15),)),
    BadRow("malformed time", (("micros", "1700000000000000"),)),
    BadRow("malformed time", (("micros", None),)),
    BadRow("malformed row", length=4),
    BadRow("malformed row", length=6),
    BadRow("malformed row", length=0),
]


def kind_by_kind(cases: list) -> st.SearchStrategy:
    """Draw each kind of wrong (`what`) as often as any other, however many variants it has."""
    kinds: dict[str, list] = {}
    for case in cases:
        kinds.setdefault(case.what, []).append(case)
    return st.one_of([st.sampled_from(variants) for variants in kinds.values()])


event_poison = kind_by_kind(POISONS)
row_poison = kind_by_kind(POISONS + BAD_ROWS)
# Well-formed rows that only PostgreSQL refuses (the flush checks the rest before it stores anything).
refusable = kind_by_kind([p for p in POISONS if p.what not in ("malformed id", "time out of range")])
unreadable = st.sampled_from(
    [
        Unreadable(((b"events", b"\x80\xff\x00 garbage"),)),
        Unreadable(((b"events", b"this is not json"),)),
        Unreadable(((b"payload", b"[]"),)),
        Unreadable(((b"\xff\xfe", b"\x00"),)),
        Unreadable(((b"events", b'{"rows": []}'),)),
        Unreadable(((b"events", b'"text"'),)),
        Unreadable(((b"events", b"42"),)),
        Unreadable(((b"events", b"null"),)),
        Unreadable(((b"events", b"[1, 2]"),)),
        Unreadable(((b"events", b'["row"]'),)),
        Unreadable(((b"events", b'[{"event_id": "x"}]'),)),
        Unreadable(((b"events", b"[null]"),)),
        Unreadable(((b"events", b'{"format": 3, "fields": [], "rows": []}'),)),
        Unreadable(((b"events", b'{"format": 2, "fields": ["event_id", "user_id"], "rows": [["x", "y"]]}'),)),
        Unreadable(((b"events", b'{"format": 2, "rows": []}'),)),
        Unreadable(
            (
                (
                    b"events",
                    b'{"format": 2, "fields": ["event_id", "user_id", "category", "subcategory", "micros"], '
                    b'"rows": [1, "row"]}',
                ),
            )
        ),
    ]
)
entries = st.one_of(
    st.builds(Pushed, st.lists(st.one_of(valid, again, event_poison), max_size=5).map(tuple)),
    st.builds(Raw, st.lists(st.one_of(valid, again, row_poison), max_size=5).map(tuple), st.sampled_from([1, 2])),
    unreadable,
)


class Writer:
    """Write an example's entries and keep what the flush owes each: rows stored, and dead letters with reasons."""

    def __init__(self):
        self.ids = (uuid.UUID(int=(0xE << 64) + n) for n in range(1, 1_000_000))
        self.valid: list[Event] = []  # in order of writing, retries included
        self.stored_before: list[Event] = []
        # Entries are named "<shard>/<entry id>": an entry id is unique within its shard's stream only.
        self.letters: list[tuple[str, bytes | None, str]] = []  # (entry, row as JSON, what is wrong)
        # Unreadable entries, with the JSON of their elements when they are a list (of anything but rows).
        self.unreadable: dict[str, list[bytes] | None] = {}

    def owed(self, letters: list[dict]) -> list[tuple[str, bytes | None, str]]:
        """Return the dead letters the flush owes: (entry, row as JSON or None for the whole entry, what)."""
        owed = list(self.letters)
        for entry, elements in self.unreadable.items():
            # A list of things that are no rows may be refused whole, or element by element, as event
            # rows that are wrong; either way each is accounted for, once.
            by_element = elements is not None and any(
                letter_entry(letter) == entry and "event" in letter for letter in letters
            )
            for row in elements if by_element else [None]:
                owed.append((entry, row, "unreadable entry"))
        return owed

    def write(self, entry) -> None:
        """Add the entry to the stream, as an accepted request (Pushed) or as it is (Raw, Unreadable)."""
        if isinstance(entry, Unreadable):
            entry_id = add_raw_entry(dict(entry.fields), user_id=LEARNERS[0])
            try:
                rows = entry_rows(dict(entry.fields))
            except (KeyError, TypeError, ValueError):
                rows = None
            named = named_entry(buffer.keys.shard_of(LEARNERS[0]), entry_id)
            self.unreadable[named] = [orjson.dumps(row) for row in rows] if isinstance(rows, list) else None
            return
        made = [self.make(row, raw=isinstance(entry, Raw)) for row in entry.rows]
        if isinstance(entry, Raw):
            rows = [row for row, _ in made]
            entry_id = add_raw_entry(raw_entry(rows, entry.wire_format), user_id=LEARNERS[0])
            self.note_letters(entry_id, made)
            return
        buffer.push([event for event, _ in made])
        # One entry per shard the events' learners are of, each the last of its shard's stream.
        by_shard = defaultdict(list)
        for event, what in made:
            by_shard[buffer.keys.shard_of(event.user_id)].append((event, what))
        for shard, part in by_shard.items():
            (last,) = buffer.client().xrevrange(shard.stream, count=1)
            self.note_letters(last[0].decode(), part, shard)

    def note_letters(self, entry_id: str, made: list, shard: buffer.Shard | None = None) -> None:
        """Note the dead letters the flush owes for the rows of an entry (of the shard, else of LEARNERS[0])."""
        shard = shard or buffer.keys.shard_of(LEARNERS[0])
        (_, fields) = buffer.client().xrange(shard.stream, entry_id, entry_id)[0]
        for row, (_, what) in zip(entry_rows(fields), made, strict=True):
            if what is not None:
                self.letters.append((named_entry(shard, entry_id), orjson.dumps(row), what))

    def make(self, spec, *, raw: bool) -> tuple[Event | list, str | None]:
        """Return the event (or, for a Raw entry, its row) and what is wrong with it (None when nothing)."""
        if isinstance(spec, Poison | BadRow):
            event = Event(next(self.ids), LEARNERS[0], CATEGORY_OF[3], 3, NOW)
            if isinstance(spec, Poison):
                event = event._replace(**dict(spec.changes))
                return (raw_row(event) if raw else event), spec.what
            row = raw_row(event, **dict(spec.changes))
            return (row + [None] * spec.length)[: spec.length], spec.what
        if isinstance(spec, Again) and self.valid:
            event = self.valid[spec.n % len(self.valid)]
        else:
            if isinstance(spec, Again):  # nothing to repeat yet: a new event
                spec = Valid(0, 1, 0)
            sub = spec.subcategory
            event = Event(
                next(self.ids), LEARNERS[spec.learner], CATEGORY_OF[sub], sub, NOW - timedelta(minutes=spec.minutes_ago)
            )
            if spec.stored_before:
                self.stored_before.append(event)
        self.valid.append(event)
        return (raw_row(event) if raw else event), None


def create_learners() -> None:
    """Create the learners of LEARNERS and DELETED (deleted again once their events are written)."""
    for learner in [*LEARNERS, DELETED]:
        UserFactory(id=learner)


def store_before(events: list[Event]) -> None:
    """Store the events as an earlier flush would have: what comes again is a retry."""
    Error.objects.bulk_create(
        Error(event_id=e[0], user_id=e[1], errorCategory=e[2], errorSubCategory=e[3], timestamp_utc=e[4])
        for e in map(stored_row, events)
    )


def assert_stored_once(valid: list[Event]) -> None:
    """Assert that PostgreSQL holds each of these events once, as accepted, and nothing else."""
    stored = list(
        Error.objects.values_list("event_id", "user_id", "errorCategory", "errorSubCategory", "timestamp_utc")
    )
    assert Counter(row[0] for row in stored) == Counter({e.event_id: 1 for e in valid})
    assert set(stored) == {stored_row(e) for e in valid}


def start_afresh() -> None:
    """Forget the previous example: hypothesis runs them all inside the test's one transaction."""
    User.objects.filter(pk__in=[*LEARNERS, DELETED]).delete()
    Error.objects.all().delete()
    EventReceipt.objects.all().delete()  # the ids of one example come again in the next
    buffer.client().flushdb()  # on a cluster, every node
    cache.clear()


def named_entry(shard: buffer.Shard, entry_id: str) -> str:
    """Return the name of a stream entry: its shard and its id, unique within the shard's stream only."""
    return f"{shard.number}/{entry_id}"


def letter_entry(letter: dict) -> str:
    """Return the name of the entry a dead letter came from."""
    return f"{letter['shard']}/{letter['entry']}"


def letter_key(letter: dict) -> tuple[str, bytes | None]:
    """Return the entry of a dead letter and its row (as JSON), or None for a whole entry."""
    return letter_entry(letter), (orjson.dumps(letter_row(letter)) if "event" in letter else None)


def stored_row(event: Event) -> tuple:
    """Return the Error row the event makes: (event_id, user_id, category, subcategory, timestamp)."""
    return event.event_id, event.user_id, event.category, event.subcategory, event.timestamp


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
)
@given(st.lists(entries, min_size=1, max_size=8), st.integers(min_value=1, max_value=7))
# Two bad entries in one batch: a check violation sends the batch to the merge, which meets the second.
@example(
    written=[
        Pushed((Poison("number out of range", (("category", -1),)),)),
        Pushed((Valid(0, 1, 0), Poison("number out of range", (("subcategory", 99999),)))),
    ],
    batch_size=7,
)
# A bad row next to good ones, which are stored, in an entry accepted through the buffer (pending members).
@example(
    written=[
        Pushed(
            (
                Valid(0, 3, 0),
                Poison("malformed id", (("event_id", "not-a-uuid"),)),
                Poison("time out of range", (("timestamp", year_one),)),
            )
        )
    ],
    batch_size=1,
)
# Retries (stored already, twice in one entry) next to the events of a learner deleted since.
@example(
    written=[
        Pushed((Valid(1, 5, 10, stored_before=True), Poison("deleted learner", (("user_id", DELETED),)))),
        Raw((Again(0), Again(0)), wire_format=1),
    ],
    batch_size=2,
)
# Entries that are no list of rows, and a time no datetime can hold.
@example(
    written=[
        Unreadable(((b"events", b"[1, 2]"),)),
        Unreadable(((b"payload", b"[]"),)),
        Raw((Valid(2, 12, 5), BadRow("time out of range", (("micros", 2**62),)))),
    ],
    batch_size=3,
)
def test_any_mix_of_valid_and_poison_entries_drains_storing_each_valid_event_once(written, batch_size):
    # Spelled out here: the falsifying example that hypothesis prints may show its arguments blank.
    note("\n".join(["entries:", *(f"  {entry!r}" for entry in written), f"batch_size={batch_size}"]))
    start_afresh()
    create_learners()
    writer = Writer()
    for entry in written:
        writer.write(entry)
    User.objects.filter(pk=DELETED).delete()
    store_before(writer.stored_before)

    ingest.flush(batch_size=batch_size, max_seconds=FLUSH_SECONDS)

    assert buffer.backlog()["entries"] == 0

    assert_stored_once(writer.valid)

    letters = buffer.dead_letters(count=10_000)
    for letter in letters:
        assert {"entry", "reason", "at"} <= letter.keys(), letter
        assert ("event" in letter) != ("raw" in letter), letter
    found = Counter(map(letter_key, letters))
    owed_letters = writer.owed(letters)
    owed = Counter((entry, row) for entry, row, _ in owed_letters)
    reasons = {letter_key(letter): letter["reason"] for letter in letters}
    assert found == owed, (
        f"missing dead letters: {sorted((owed - found).elements(), key=str)}; "
        f"unexpected ones: {[(key, reasons[key]) for key in (found - owed).elements()]}"
    )
    for entry, row, what in owed_letters:
        assert re.search(NAMED[what], reasons[entry, row], re.IGNORECASE), (what, row, reasons[entry, row])

    assert pending_keys() == []

    for learner in LEARNERS:
        ranked = top_errors(user_id=learner, last_n_days=None, limit=None)
        assert sum(stat.frequency for stat in ranked) == Error.objects.filter(user_id=learner).count()


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.one_of(valid, again, refusable), min_size=1, max_size=12))
# A check violation sends the batch to the merge, whose own COPY meets the value out of range.
@example([Poison("number out of range", (("category", -1),)), Poison("number out of range", (("subcategory", 99999),))])
@example(
    [Valid(0, 1, 0, stored_before=True), Poison("mismatched pair", (("category", 1), ("subcategory", 9))), Again(0)]
)
def test_a_batch_postgresql_partly_refuses_stores_the_rest_once_and_names_each_refused_event(rows):
    note(f"rows={rows!r}")
    start_afresh()
    create_learners()
    writer = Writer()
    made = [writer.make(row, raw=False) for row in rows]
    User.objects.filter(pk=DELETED).delete()
    store_before(writer.stored_before)
    events = [event.buffered() for event, _ in made]

    inserted, refused = ingest.store(events)

    assert_stored_once(writer.valid)
    assert inserted == len({e.event_id for e in writer.valid} - {e.event_id for e in writer.stored_before})
    bad = [(event.buffered(), what) for event, what in made if what is not None]
    assert Counter(event for event, _ in refused) == Counter(event for event, _ in bad)
    reasons = dict(refused)
    for event, what in bad:
        assert re.search(NAMED[what], reasons[event], re.IGNORECASE), (what, event, reasons[event])
