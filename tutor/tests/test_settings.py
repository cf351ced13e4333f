"""Production settings: refuse unsafe starts, pass Django's deployment checklist."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION = {
    "DJANGO_SECRET_KEY": "f8Kq2-vN7pZ3rT9yW1xL5mB0cH4jD6sG8aE2uQ7oI3nR5tY9wK1zX4vC6bM0",
    "DJANGO_ALLOWED_HOSTS": "tutor.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_BEHIND_TLS_PROXY": "true",
}


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**clean, "DJANGO_SETTINGS_MODULE": "english_tutor.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


def test_the_documented_production_configuration_passes_the_deployment_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_is_off_unless_asked_for():
    code = "from django.conf import settings; print(settings.DEBUG)"

    assert manage("shell", "--verbosity", "0", "-c", code, DJANGO_SECRET_KEY="x" * 60).stdout.strip() == "False"
    assert manage("shell", "--verbosity", "0", "-c", code, DJANGO_DEBUG="true").stdout.strip() == "True"


def test_a_malformed_setting_stops_the_start_naming_it():
    result = manage("check", DJANGO_DEBUG="true", ERROR_FLUSH_BATCH="many")

    assert result.returncode != 0
    assert "ERROR_FLUSH_BATCH" in result.stderr
