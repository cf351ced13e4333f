import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tutor.bank_lint import BankExercise, lint
from tutor.models import Exercise
from tutor.taxonomy import ErrorSubCategory


class Command(BaseCommand):
    help = (
        "Check the exercise bank (in the database, or in a fixture file) against the bank's rules: "
        "keys, accepted answers, duplicates, key positions, options, thin cells, pace, IPA and stress."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fixture", type=Path, help="Check this fixture file instead of the database.")
        parser.add_argument(
            "--subcategory",
            type=int,
            action="append",
            choices=ErrorSubCategory.values,
            help="Check only this subcategory's exercises and cells (repeatable); duplicates are sought bank-wide.",
        )

    def handle(self, *args, fixture: Path | None, subcategory: list[int] | None, **options):
        exercises = _from_fixture(fixture) if fixture else _from_database()
        problems = lint(exercises, subcategory)
        for problem in problems:
            self.stderr.write(str(problem))
        source = fixture or "the database"
        if problems:
            raise CommandError(f"{len(problems)} problems in the bank ({source}).")
        self.stdout.write(f"The bank ({source}, {len(exercises)} exercises) passes every rule.")


def _from_database() -> list[BankExercise]:
    return [
        BankExercise(str(e.pk), e.title, e.errorSubCategory, e.exercise_type, e.level, e.is_active, e.content)
        for e in Exercise.objects.order_by("errorSubCategory", "level", "title")
    ]


def _from_fixture(path: Path) -> list[BankExercise]:
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CommandError(f"Cannot read {path}: {error}") from error
    return [
        BankExercise(
            str(row["pk"]),
            row["fields"]["title"],
            row["fields"]["errorSubCategory"],
            row["fields"]["exercise_type"],
            row["fields"]["level"],
            row["fields"].get("is_active", True),
            row["fields"]["content"],
        )
        for row in rows
        if row.get("model") == "tutor.exercise"
    ]
