"""Partition the errors table by month, and count an event id once through receipts instead of a unique index.

On PostgreSQL, `tutor_error` becomes a table range-partitioned on `timestamp_utc`: one partition
for everything before the month a year ago, then one per month through three months ahead
(tutor.partitions keeps making them). Its rows are copied over in this migration's transaction.

A unique index on a partitioned table must hold the partition key, so the event id's uniqueness moves
to `tutor_event_receipt`, one row per event id received, kept for EVENT_ID_WINDOW_DAYS. A trigger runs
for every row inserted through any door: a new event id takes its receipt and the row goes in; a
known one is refused, as the unique index refused it. Writers of many rows take their receipts
themselves first and insert only the new ones (tutor.event_receipts). Every existing event id
gets a receipt dated now. SQLite (the embedded demo) keeps one table and its unique index.
"""

import uuid
from datetime import UTC, datetime, timedelta

import django.db.models.functions
from django.db import migrations, models

_RECEIPT_FUNCTION = """
CREATE FUNCTION tutor_error_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The flush takes its batch's receipts itself in one statement, and says so for the rows it then copies.
  IF current_setting('tutor.receipts_taken', true) = 'on' THEN
    RETURN NEW;
  END IF;
  -- A known event id breaks the receipts' primary key: the row is refused, as the unique index refused it.
  INSERT INTO tutor_event_receipt (event_id) VALUES (NEW.event_id);
  RETURN NEW;
END
$$;
CREATE TRIGGER tutor_error_receipt BEFORE INSERT ON tutor_error FOR EACH ROW EXECUTE FUNCTION tutor_error_receipt();
"""

_COLUMNS = 'id, event_id, user_id, "errorCategory", "errorSubCategory", timestamp_utc'
_FOREIGN_KEY = (
    "ALTER TABLE tutor_error ADD CONSTRAINT tutor_error_user_id_7f2ad97e_fk_tutor_user_id "
    "FOREIGN KEY (user_id) REFERENCES tutor_user (id) DEFERRABLE INITIALLY DEFERRED"
)
_INDEX = (
    'CREATE INDEX tutor_error_user_time ON tutor_error (user_id, timestamp_utc, "errorCategory", "errorSubCategory")'
)


def _month(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _recreate(cursor, *, old: str, partitioned: bool) -> None:
    """Rename tutor_error to `old` and make a new tutor_error of the same columns, checks and identity."""
    cursor.execute(f"ALTER TABLE tutor_error RENAME TO {old}")
    cursor.execute(
        f"CREATE TABLE tutor_error (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)"
        + (" PARTITION BY RANGE (timestamp_utc)" if partitioned else "")
    )


def _move_rows(cursor, *, old: str) -> None:
    """Copy the rows of `old` into tutor_error, drop `old`, and give the identity its usual name and next value."""
    cursor.execute(f"INSERT INTO tutor_error ({_COLUMNS}) SELECT {_COLUMNS} FROM {old}")
    cursor.execute(f"DROP TABLE {old} CASCADE")
    cursor.execute("SELECT pg_get_serial_sequence('tutor_error', 'id')")
    (sequence,) = cursor.fetchone()
    if sequence != "public.tutor_error_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO tutor_error_id_seq")
    cursor.execute("SELECT setval('tutor_error_id_seq', coalesce((SELECT max(id) FROM tutor_error), 0) + 1, false)")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # One table: its unique index stays.
    with schema_editor.connection.cursor() as cursor:
        _recreate(cursor, old="tutor_error_unpartitioned", partitioned=True)
        first = _month(datetime.now(UTC) - timedelta(days=365))
        # Bounds are literals: PostgreSQL takes no parameters in DDL.
        cursor.execute(
            f"CREATE TABLE tutor_error_history PARTITION OF tutor_error FOR VALUES FROM (MINVALUE) TO ('{first}')"
        )
        start, last = first, _month(datetime.now(UTC) + timedelta(days=93))
        while start <= last:
            cursor.execute(
                f"CREATE TABLE tutor_error_y{start.year:04d}m{start.month:02d} PARTITION OF tutor_error "
                f"FOR VALUES FROM ('{start}') TO ('{_next(start)}')"
            )
            start = _next(start)
        cursor.execute(
            "INSERT INTO tutor_event_receipt (event_id, received_at) SELECT event_id, now() FROM tutor_error_unpartitioned"
        )
        _move_rows(cursor, old="tutor_error_unpartitioned")
        cursor.execute("ALTER TABLE tutor_error ADD CONSTRAINT tutor_error_pkey PRIMARY KEY (id, timestamp_utc)")
        cursor.execute(_INDEX)
        cursor.execute(_FOREIGN_KEY)
        cursor.execute(_RECEIPT_FUNCTION)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER tutor_error_receipt ON tutor_error")
        cursor.execute("DROP FUNCTION tutor_error_receipt()")
        _recreate(cursor, old="tutor_error_partitioned", partitioned=False)
        _move_rows(cursor, old="tutor_error_partitioned")
        cursor.execute("ALTER TABLE tutor_error ADD CONSTRAINT tutor_error_pkey PRIMARY KEY (id)")
        cursor.execute("ALTER TABLE tutor_error ADD CONSTRAINT tutor_error_event_id_key UNIQUE (event_id)")
        cursor.execute(_INDEX)
        cursor.execute(_FOREIGN_KEY)


class Migration(migrations.Migration):
    dependencies = [("tutor", "0013_memories_of_earlier_attempts")]

    operations = [
        migrations.CreateModel(
            name="EventReceipt",
            fields=[
                ("event_id", models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ("received_at", models.DateTimeField(db_default=django.db.models.functions.Now(), db_index=True)),
            ],
            options={"db_table": "tutor_event_receipt"},
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="error",
                    name="event_id",
                    field=models.UUIDField(default=uuid.uuid4, editable=False),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
