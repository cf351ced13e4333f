"""Let an error's time move to another month: its row moves partitions, and keeps the receipt it has.

PostgreSQL moves a row whose partition key leaves its partition as a delete and an insert, and the
insert fires the receipts' trigger, which would refuse the row's own event id. The row's update marks
its event id as moving (for the rest of the statement's row, in the transaction's settings); the
insert of the moved row finds the mark and takes it off; an update that moved nothing takes it off
after the row. Nothing else can insert that id in between: both happen inside the one UPDATE.
"""

from django.db import migrations

_FORWARD = """
CREATE OR REPLACE FUNCTION tutor_error_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The flush takes its batch's receipts itself in one statement, and says so for the rows it then copies.
  IF current_setting('tutor.receipts_taken', true) = 'on' THEN
    RETURN NEW;
  END IF;
  -- A row moving to another month keeps its receipt.
  IF current_setting('tutor.moving_event', true) = NEW.event_id::text THEN
    PERFORM set_config('tutor.moving_event', '', true);
    RETURN NEW;
  END IF;
  -- A known event id breaks the receipts' primary key: the row is refused, as the unique index refused it.
  INSERT INTO tutor_event_receipt (event_id) VALUES (NEW.event_id);
  RETURN NEW;
END
$$;
CREATE FUNCTION tutor_error_moving() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.event_id IS DISTINCT FROM OLD.event_id THEN
    RAISE EXCEPTION 'an error''s event_id never changes' USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('tutor.moving_event', OLD.event_id::text, true);
  RETURN NEW;
END
$$;
CREATE FUNCTION tutor_error_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('tutor.moving_event', '', true);
  RETURN NULL;
END
$$;
CREATE TRIGGER tutor_error_moving BEFORE UPDATE ON tutor_error FOR EACH ROW EXECUTE FUNCTION tutor_error_moving();
CREATE TRIGGER tutor_error_moved AFTER UPDATE ON tutor_error FOR EACH ROW EXECUTE FUNCTION tutor_error_moved();
"""

_BACKWARD = """
DROP TRIGGER tutor_error_moved ON tutor_error;
DROP TRIGGER tutor_error_moving ON tutor_error;
DROP FUNCTION tutor_error_moved();
DROP FUNCTION tutor_error_moving();
CREATE OR REPLACE FUNCTION tutor_error_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('tutor.receipts_taken', true) = 'on' THEN
    RETURN NEW;
  END IF;
  INSERT INTO tutor_event_receipt (event_id) VALUES (NEW.event_id);
  RETURN NEW;
END
$$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("tutor", "0014_partitioned_errors")]

    operations = [migrations.RunPython(forward, backward)]
