from django.core.management.base import BaseCommand, CommandError

from tutor import buffer, ingest


class Command(BaseCommand):
    help = "Move every buffered error event into PostgreSQL now, then report what happened."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="Stream entries per transaction.")
        parser.add_argument(
            "--dead-letters", type=int, default=0, metavar="N", help="Then list the N oldest dead letters."
        )

    def handle(self, *args, batch_size, dead_letters, **options):
        if not buffer.enabled():
            raise CommandError("No event buffer is configured (EVENT_BUFFER_URL): events are already in the database.")
        try:
            report = ingest.flush(batch_size=batch_size)
        except buffer.ShardCountChanged as exc:
            raise CommandError(str(exc)) from exc
        backlog = buffer.backlog()
        self.stdout.write(
            f"Flushed {report.entries} entries in {report.batches} batches: {report.events} events, "
            f"{report.inserted} new rows, {report.dead} dead letters. "
            f"Left in the stream: {backlog['entries']}; dead letters in all: {backlog['dead']}."
        )
        for problem in sorted(set(report.problems)):
            self.stderr.write(f"dead letter: {problem}")
        for letter in buffer.dead_letters(dead_letters) if dead_letters else []:
            self.stdout.write(" ".join(f"{key}={value}" for key, value in letter.items()))
