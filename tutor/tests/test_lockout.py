"""The brake on password guessing at the admin's login (tutor/lockout.py), counted in PostgreSQL."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db.models import F

from tutor.lockout import lockout_message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LOCKED_OUT = (
    "Too many failed sign-ins for this account or address. Try again in 15 minutes, "
    "or ask another staff member to lift the lockout."
)
WRONG_PASSWORD = "Please enter the correct username and password"
ATTACKER = "203.0.113.7"


@pytest.fixture
def curator(db):
    return get_user_model().objects.create_user("curator", password="curator-password", is_staff=True)


@pytest.fixture
def reviewer(db):
    return get_user_model().objects.create_user("reviewer", password="reviewer-password", is_staff=True)


def sign_in(client, username, password, address=ATTACKER, **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **headers,
    )


def fail(client, usernames, address=ATTACKER, **headers):
    for username in usernames:
        sign_in(client, username, "not-the-password", address, **headers)


def signed_in_as(client) -> str | None:
    response = client.get("/admin/")
    return response.context["user"].get_username() if response.status_code == 200 else None


def backdate_failures(minutes: float) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused_with_the_message(client, curator):
    answers = [sign_in(client, "curator", "not-the-password") for _ in range(5)]
    right = sign_in(client, "curator", "curator-password")

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 429]
    assert all(WRONG_PASSWORD in answer.content.decode() for answer in answers[:4])
    assert right.status_code == 429
    page = right.content.decode()
    assert LOCKED_OUT in page
    assert 'id="login-form"' in page
    assert 'value="curator"' in page
    assert signed_in_as(client) is None
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 5  # the refused attempt is not recorded
    assert "not-the-password" not in attempt.post_data


def test_the_lockout_holds_for_the_whole_cool_off_and_then_the_right_password_works(client, curator, settings):
    fail(client, ["curator"] * 5)

    backdate_failures(minutes=settings.ADMIN_LOCKOUT_MINUTES - 1)
    too_early = sign_in(client, "curator", "curator-password")
    # The refused attempt is not counted: the cool-off still runs from the failure that closed the lock.
    backdate_failures(minutes=1)
    after_cool_off = sign_in(client, "curator", "curator-password")

    assert too_early.status_code == 429
    assert after_cool_off.status_code == 302
    assert signed_in_as(client) == "curator"


def test_staff_see_and_lift_a_lockout_in_the_admin(client, admin_client, curator):
    fail(client, ["curator"] * 5)
    assert sign_in(client, "curator", "curator-password").status_code == 429

    listing = admin_client.get("/admin/axes/accessattempt/", {"q": "curator"})
    attempts = list(AccessAttempt.objects.filter(username="curator").values_list("pk", flat=True))
    lifted = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert listing.status_code == 200
    assert "Locked Out" in listing.content.decode()
    assert lifted.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, "curator", "curator-password").status_code == 302
    assert signed_in_as(client) == "curator"


def test_an_account_is_locked_from_every_address_and_other_accounts_are_not(client, curator, reviewer):
    for last_byte in range(1, 6):
        fail(client, ["curator"], address=f"198.51.100.{last_byte}")

    assert sign_in(client, "curator", "curator-password", address="192.0.2.1").status_code == 429
    assert sign_in(client, "reviewer", "reviewer-password", address="192.0.2.1").status_code == 302


def test_an_address_is_locked_for_every_account_and_other_addresses_are_not(client, curator, reviewer):
    fail(client, ["admin", "root", "staff", "test", "guest"])

    assert sign_in(client, "curator", "curator-password").status_code == 429
    assert sign_in(client, "reviewer", "reviewer-password", address="192.0.2.1").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_address_lock(client, curator):
    for last_byte, username in enumerate(["admin", "root", "staff", "test", "guest"], start=1):
        fail(client, [username], HTTP_X_FORWARDED_FOR=f"192.0.2.{last_byte}")

    refused = sign_in(client, "curator", "curator-password", HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert refused.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_behind_a_trusted_proxy_the_address_is_the_one_the_proxy_saw(client, curator, reviewer, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.9"
    # The client wrote the first entry itself; the proxy appended the address it saw.
    fail(
        client,
        ["admin", "root", "staff", "test", "guest"],
        address=proxy,
        HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ATTACKER}",
    )

    from_attacker = sign_in(client, "curator", "curator-password", address=proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    from_colleague = sign_in(client, "reviewer", "reviewer-password", address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.50")

    assert from_attacker.status_code == 429
    assert from_colleague.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_api_tokens_keep_working_for_a_locked_account_from_a_locked_address(client, api):
    fail(client, ["service"] * 5, address="127.0.0.1")
    assert sign_in(client, "service", "any-password", address="127.0.0.1").status_code == 429

    response = api.get("/api/exercises", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200


def test_the_message_gives_the_cool_off_in_minutes():
    assert lockout_message(timedelta(minutes=15)) == LOCKED_OUT
    assert "Try again in 1 minute, or ask" in lockout_message(timedelta(minutes=1))


def test_the_policy_comes_from_the_environment_and_must_be_positive(settings):
    def shell(**variables):
        code = "from django.conf import settings; print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME)"
        return subprocess.run(
            [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "english_tutor.settings", **variables},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=settings.BASE_DIR,
        )

    chosen = shell(ADMIN_LOCKOUT_FAILURES="3", ADMIN_LOCKOUT_MINUTES="60")
    refused = shell(ADMIN_LOCKOUT_MINUTES="0")

    assert chosen.stdout.split() == ["3", "1:00:00"], chosen.stderr
    assert refused.returncode != 0
    assert "ADMIN_LOCKOUT_MINUTES" in refused.stderr
