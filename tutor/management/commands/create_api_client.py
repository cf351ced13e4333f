from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create (or find) an API client account and print its token."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Client name, e.g. conversation-service.")
        parser.add_argument("--staff", action="store_true", help="Allow managing learners and exercises.")

    def handle(self, *args, name, staff, **options):
        client, created = get_user_model().objects.get_or_create(username=name, defaults={"is_staff": staff})
        if created:
            client.set_unusable_password()  # a service signs in with its token only
            client.save()
        elif staff and not client.is_staff:
            client.is_staff = True
            client.save(update_fields=["is_staff"])
        token, _ = Token.objects.get_or_create(user=client)
        self.stdout.write(token.key)
