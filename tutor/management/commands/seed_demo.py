from django.core.management import call_command
from django.core.management.base import BaseCommand

from tutor.models import Exercise

FIXTURES = (
    "tutor/fixtures/users.json",
    "tutor/fixtures/errors.json",
    "tutor/fixtures/exercises.json",
    # Demo learners with recent errors and attempts, so that the admin's figures and charts have data.
    "tutor/fixtures/practice.json",
)


class Command(BaseCommand):
    help = (
        "Load the demo learners, their errors and attempts, and the curated exercises, "
        "unless the bank already has exercises."
    )

    def handle(self, *args, **options):
        if Exercise.objects.exists():
            self.stdout.write("The database already holds exercises: leaving its data as it is.")
            return
        call_command("loaddata", *FIXTURES, verbosity=options["verbosity"])
