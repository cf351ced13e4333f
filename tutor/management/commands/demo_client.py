from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tutor import api_keys

USERNAME = "demo"
PASSWORD = "demo-password"
KEY_NAME = "demo (make run)"


class Command(BaseCommand):
    help = (
        "Create the demo staff account if missing, give it a new API key in place of the last one, "
        "and say how to use them (for make run)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    def handle(self, *args, url, **options):
        staff, created = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            staff.set_password(PASSWORD)
            staff.save()
        # Only a key's digest is stored, so each run makes a key to print, and retires the one before.
        api_keys.revoke(api_keys=staff.api_keys.filter(name=KEY_NAME))
        _, key = api_keys.create(client=staff, name=KEY_NAME)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Demo staff account: {USERNAME} / {PASSWORD}  (admin: {url}/admin/)",
                    f"Demo API key:       {key}",
                    f"Swagger UI:         {url}/  (Authorize with: Token {key})",
                    f"Try:  curl -H 'Authorization: Token {key}' "
                    f"'{url}/api/generate-exercise?user_id=dcc44822-4b8d-43cf-be83-fb510ea07bae'",
                    "",
                ]
            )
        )
