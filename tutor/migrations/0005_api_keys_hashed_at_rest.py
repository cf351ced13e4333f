"""API keys stored as their SHA-256: every DRF token becomes a key of the same secret, then its table goes.

DRF's authtoken kept each key in plaintext in authtoken_token. Each row becomes an ApiKey named
"migrated" (so clients keep their key), then the table is dropped and authtoken's migration records
deleted, as `migrate authtoken zero` would have: no table holds a key in plaintext any more.
Self-contained on purpose (a migration must not change when tutor.api_keys does): the digest is the
SHA-256 in hex and the prefix the first 8 characters, as tutor.api_keys has them for such keys.
"""

import hashlib
from datetime import UTC

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"
MIGRATED_NAME = "migrated"
LEGACY_PREFIX_CHARACTERS = 8


def hash_legacy_tokens(apps, schema_editor):
    """Copy every DRF token into ApiKey as a digest, then drop the plaintext table."""
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return  # a database made after authtoken left INSTALLED_APPS
    ApiKey = apps.get_model("tutor", "ApiKey")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {LEGACY_TABLE}")
        tokens = cursor.fetchall()
    ApiKey.objects.using(connection.alias).bulk_create(
        ApiKey(
            client_id=user_id,
            name=MIGRATED_NAME,
            prefix=key[:LEGACY_PREFIX_CHARACTERS],
            digest=hashlib.sha256(key.encode()).hexdigest(),
            # SQLite hands back the naive UTC time it stored.
            created_at=created if timezone.is_aware(created) else timezone.make_aware(created, UTC),
        )
        for key, user_id, created in tokens
    )
    schema_editor.execute(f"DROP TABLE {LEGACY_TABLE}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tutor", "0004_unannounced_changes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "name",
                    models.CharField(help_text="What uses it, e.g. conversation-service (production).", max_length=100),
                ),
                ("prefix", models.CharField(db_index=True, editable=False, max_length=16)),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("expires_at", models.DateTimeField(blank=True, help_text="Empty = never expires.", null=True)),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "client",
                    models.ForeignKey(
                        help_text="The account it signs in.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_keys",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "API key",
                "ordering": ["-created_at"],
            },
        ),
        # One way: the plaintext keys are gone, so going back leaves every client without a key.
        migrations.RunPython(hash_legacy_tokens, migrations.RunPython.noop),
    ]
