from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tutor import api_keys


class Command(BaseCommand):
    help = (
        "Create an API client account (or find it) and give it a new API key, printed once on standard output: "
        "only its digest is stored. Run it again to rotate, then revoke the old key (revoke_api_key)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Client name, e.g. conversation-service.")
        parser.add_argument("--staff", action="store_true", help="Allow managing learners and exercises.")
        parser.add_argument("--expires-in-days", type=int, metavar="N", help="The key stops working after N days.")

    def handle(self, *args, name, staff, expires_in_days, **options):
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        client, created = get_user_model().objects.get_or_create(username=name, defaults={"is_staff": staff})
        if created:
            client.set_unusable_password()  # a service signs in with its key only
            client.save()
        elif staff and not client.is_staff:
            client.is_staff = True
            client.save(update_fields=["is_staff"])
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        api_key, key = api_keys.create(client=client, name=name, expires_at=expires_at)
        until = f"expires {api_key.expires_at:%Y-%m-%d %H:%M} UTC" if api_key.expires_at else "never expires"
        self.stderr.write(f"New key {api_key.prefix}… for {name} ({until}). Store it now: it is not shown again.")
        self.stdout.write(key)
