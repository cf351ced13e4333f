from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

USERNAME = "demo"
PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Create the demo staff account and its API token if missing, and say how to use them (for make run)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    def handle(self, *args, url, **options):
        staff, created = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            staff.set_password(PASSWORD)
            staff.save()
        token, _ = Token.objects.get_or_create(user=staff)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Demo staff account: {USERNAME} / {PASSWORD}  (admin: {url}/admin/)",
                    f"Demo API token:     {token.key}",
                    f"Swagger UI:         {url}/  (Authorize with: Token {token.key})",
                    f"Try:  curl -H 'Authorization: Token {token.key}' "
                    f"'{url}/api/generate-exercise?user_id=dcc44822-4b8d-43cf-be83-fb510ea07bae'",
                    "",
                ]
            )
        )
