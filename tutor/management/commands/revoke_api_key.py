from django.core.management.base import BaseCommand, CommandError

from tutor import api_keys
from tutor.models import ApiKey


class Command(BaseCommand):
    help = (
        "Revoke the API key with this prefix (as the admin and create_api_client show it): it stops working "
        "within TOKEN_CACHE_SECONDS."
    )

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="The key's prefix, e.g. tutor_Ab3dE5fG.")

    def handle(self, *args, prefix, **options):
        matching = ApiKey.objects.filter(prefix=prefix.rstrip("…"), revoked_at=None).select_related("client")
        found = list(matching)
        if not found:
            raise CommandError(f"No key in use has the prefix {prefix!r}.")
        if len(found) > 1:
            named = ", ".join(f"{k.name} of {k.client.username} (created {k.created_at:%Y-%m-%d})" for k in found)
            raise CommandError(f"{len(found)} keys have the prefix {prefix!r}: {named}. Revoke the one in the admin.")
        api_keys.revoke(api_keys=matching)
        self.stdout.write(f"Revoked {found[0]} of {found[0].client.username}.")
