"""API keys: stored as digests only, shown once, expired and revoked; DRF's plaintext tokens migrated."""

import hashlib
import importlib
import io
import re
import secrets
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIClient

from tutor import api_keys, authentication
from tutor.models import ApiKey

pytestmark = pytest.mark.django_db
URL = "/api/exercises"
LEGACY_MIGRATIONS = ("0001_initial", "0002_auto_20160226_1747", "0003_tokenproxy", "0004_alter_tokenproxy_options")


def tables_holding(text: str) -> list[str]:
    """Name every column of every table whose value, as text, contains `text`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            cursor.execute(f'SELECT 1 FROM "{table}" WHERE strpos("{column}"::text, %s) > 0 LIMIT 1', [text])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found


def client_with(key: str, **extra) -> APIClient:
    client = APIClient(**extra)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def account(db):
    return get_user_model().objects.create_user(username="conversation-service")


@pytest.fixture
def legacy_tokens(db):
    """DRF tokens as the authtoken app kept them (plaintext keys), with its migrations recorded."""
    accounts = [get_user_model().objects.create_user(username=f"legacy-{n}") for n in range(3)]
    tokens = [secrets.token_hex(20) for _ in accounts]  # DRF's Token.generate_key
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) NOT NULL PRIMARY KEY, created timestamptz NOT NULL,"
            " user_id integer NOT NULL UNIQUE REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        for account, token in zip(accounts, tokens, strict=True):
            cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [token, account.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as rows committed long before the migration
    for name in LEGACY_MIGRATIONS:
        MigrationRecorder.Migration.objects.create(app="authtoken", name=name)
    return dict(zip(tokens, accounts, strict=True))


def hash_legacy_tokens() -> None:
    """Run what migration 0005 runs on a database that had DRF tokens."""
    migration = importlib.import_module("tutor.migrations.0005_api_keys_hashed_at_rest")
    with connection.schema_editor() as schema_editor:
        migration.hash_legacy_tokens(apps, schema_editor)


def test_a_new_key_is_stored_as_its_digest_and_prefix_only(account):
    api_key, key = api_keys.create(client=account, name="conversation-service")

    assert key.startswith("tutor_")
    assert len(key) == len("tutor_") + 43
    stored = ApiKey.objects.get()
    assert stored.digest == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:14] == api_key.prefix
    assert tables_holding(key) == []
    assert client_with(key).get(URL).status_code == 200


def test_no_table_holds_a_drf_token_in_plaintext_after_the_migration(legacy_tokens):
    assert {column for token in legacy_tokens for column in tables_holding(token)} == {"authtoken_token.key"}

    hash_legacy_tokens()

    assert "authtoken_token" not in connection.introspection.table_names()
    for token in legacy_tokens:
        assert tables_holding(token) == []
    assert not MigrationRecorder.Migration.objects.filter(app="authtoken").exists()


def test_every_drf_token_becomes_a_migrated_key_that_keeps_working(legacy_tokens):
    hash_legacy_tokens()

    for token, account in legacy_tokens.items():
        migrated = ApiKey.objects.get(client=account)
        assert (migrated.name, migrated.prefix, migrated.revoked_at) == ("migrated", token[:8], None)
        response = client_with(token).get(URL)
        assert response.status_code == 200, response.content


def test_an_expired_key_is_refused(account):
    _, key = api_keys.create(client=account, name="old", expires_at=timezone.now() - timedelta(seconds=1))

    response = client_with(key).get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_key_stops_working_at_its_expiry_even_while_its_verification_is_cached(account, settings):
    settings.TOKEN_CACHE_SECONDS = 3600
    _, key = api_keys.create(client=account, name="short-lived", expires_at=timezone.now() + timedelta(seconds=1))
    client = client_with(key)
    assert client.get(URL).status_code == 200

    time.sleep(1.1)

    assert client.get(URL).status_code == 401


def test_a_revoked_key_is_refused_once_the_token_cache_time_has_passed(account, settings):
    settings.TOKEN_CACHE_SECONDS = 0
    api_key, key = api_keys.create(client=account, name="leaked")
    client = client_with(key)
    assert client.get(URL).status_code == 200

    assert api_keys.revoke(api_keys=ApiKey.objects.filter(pk=api_key.pk)) == 1

    assert client.get(URL).status_code == 401
    assert ApiKey.objects.get().revoked_at is not None


def test_revoking_forgets_the_shared_record_so_other_processes_refuse_the_key_at_once(
    account, settings, django_capture_on_commit_callbacks
):
    settings.TOKEN_CACHE_SECONDS = 3600
    api_key, key = api_keys.create(client=account, name="leaked")
    client = client_with(key)
    assert client.get(URL).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        api_keys.revoke(api_keys=ApiKey.objects.filter(pk=api_key.pk))
    authentication._local.clear()  # as another worker process, which never saw the key

    assert client.get(URL).status_code == 401


def test_the_other_keys_of_a_client_keep_working_when_one_is_revoked(account):
    old, old_key = api_keys.create(client=account, name="2025")
    _, new_key = api_keys.create(client=account, name="2026")

    api_keys.revoke(api_keys=ApiKey.objects.filter(pk=old.pk))

    assert client_with(new_key).get(URL).status_code == 200
    assert client_with(old_key).get(URL).status_code == 401


def test_a_verified_key_costs_no_query_on_the_hot_paths(api, user, make_error, django_assert_num_queries):
    make_error(user=user)
    event = {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3}
    api.get("/api/generate-exercise", {"user_id": user.pk})  # verifies the key, caches the learner

    with django_assert_num_queries(0):
        assert api.get("/api/generate-exercise", {"user_id": user.pk}).status_code == 200
        assert api.post("/api/error-events", event, format="json").status_code == 202


def test_a_key_is_verified_with_one_query(account, django_assert_num_queries):
    _, key = api_keys.create(client=account, name="service")
    request = Request(RequestFactory().get(URL, HTTP_AUTHORIZATION=f"Token {key}"))

    with django_assert_num_queries(1):  # the key and its client, joined
        user, _ = authentication.CachedTokenAuthentication().authenticate(request)

    assert user.username == account.username


def test_create_api_client_prints_the_key_once_and_it_works():
    out, err = io.StringIO(), io.StringIO()

    call_command("create_api_client", "conversation-service", "--expires-in-days", "30", stdout=out, stderr=err)

    key = out.getvalue().strip()
    api_key = ApiKey.objects.get(client__username="conversation-service")
    assert api_key.prefix in err.getvalue()
    assert key not in err.getvalue()
    assert "not shown again" in err.getvalue()
    assert timedelta(days=29) < api_key.expires_at - timezone.now() <= timedelta(days=30)
    assert client_with(key).get(URL).status_code == 200
    assert tables_holding(key) == []


def test_create_api_client_again_rotates_the_key_and_revoke_api_key_retires_the_old_one(settings):
    settings.TOKEN_CACHE_SECONDS = 0
    first, second = io.StringIO(), io.StringIO()
    call_command("create_api_client", "conversation-service", "--staff", stdout=first, stderr=io.StringIO())
    call_command("create_api_client", "conversation-service", stdout=second, stderr=io.StringIO())
    old_key, new_key = first.getvalue().strip(), second.getvalue().strip()

    call_command("revoke_api_key", api_keys.prefix_of(old_key), stdout=io.StringIO())

    assert client_with(old_key).get(URL).status_code == 401
    assert client_with(new_key).get("/api/users").status_code == 200  # the same staff client
    with pytest.raises(CommandError, match="No key in use"):
        call_command("revoke_api_key", api_keys.prefix_of(old_key))


def test_the_admin_shows_a_new_key_once_then_only_its_prefix(admin_client, account):
    response = admin_client.post(
        "/admin/tutor/apikey/add/",
        {"client": account.pk, "name": "conversation-service", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    [key] = re.findall(r"tutor_[A-Za-z0-9_-]{43}", response.content.decode())
    assert api_key.digest == api_keys.digest(key)
    assert tables_holding(key) == []
    listing = admin_client.get("/admin/tutor/apikey/").content.decode()
    assert api_key.prefix in listing
    assert key not in listing
    assert key not in admin_client.get(f"/admin/tutor/apikey/{api_key.pk}/change/").content.decode()
    assert client_with(key).get(URL).status_code == 200


def test_the_admin_revokes_keys_with_its_action(admin_client, account):
    api_key, _ = api_keys.create(client=account, name="leaked")

    response = admin_client.post("/admin/tutor/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]})

    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_at is not None


def test_the_admin_never_changes_a_key(admin_client, account):
    api_key, _ = api_keys.create(client=account, name="service")

    response = admin_client.post(f"/admin/tutor/apikey/{api_key.pk}/change/", {"name": "renamed"})

    assert response.status_code == 403
    assert ApiKey.objects.get().name == "service"


def test_swagger_still_takes_a_key_as_token_auth():
    response = APIClient().get("/api/schema", {"format": "json"})

    scheme = response.json()["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["in"], scheme["name"]) == ("header", "Authorization")
    assert 'prefix "Token"' in scheme["description"]
