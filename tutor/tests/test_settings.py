"""Settings: refuse unsafe starts and malformed values, pass Django's deployment checklist.

The variables come from the README's configuration table, so that a variable documented without a
refusal test, or read by the code without a row in the table, fails here. Refused values are tried
in batches: one start names every value it refuses.
"""

import functools
import json
import operator
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SETTINGS = ROOT / "english_tutor" / "settings.py"
GUNICORN = ROOT / "english_tutor" / "gunicorn.py"

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

# Values each variable must refuse: malformed, and out of range where there is a range.
REFUSED = {
    "DATABASE_URL": ["mysql://tutor@db.example.com/tutor", "postgres://db.example.com", "postgres://db:99999/tutor"],
    "DATABASE_CONN_MAX_AGE": ["a minute", "-1", "86401"],
    "DATABASE_REPLICA_URLS": [
        "mysql://replica.example.com/tutor",
        "postgres://replica.example.com/tutor,postgres://replica-2.example.com",
        "postgres://replica.example.com/tutor,",
        "postgres://replica.example.com:99999/tutor",
    ],
    "REDIS_URL": ["http://127.0.0.1:6379/0", "redis://127.0.0.1:6379/cache", "127.0.0.1:6379"],
    "CACHE_TIMEOUT": ["5m", "0", "86401"],
    "RANKING_CACHE_SECONDS": ["300s", "0"],
    "EVENT_BUFFER_URL": ["redis//127.0.0.1:6379/2", "memory://"],
    "EVENT_BUFFER_TIMEOUT": ["a second", "0", "61"],
    "EVENT_BUFFER_CLUSTER": ["maybe", ""],
    "EVENT_BUFFER_CLUSTER_NODES": ["node-2:7000", "redis://node-2:7000,", "redis://node-2:99999"],
    "EVENT_STREAM_SHARDS": ["many", "0", "1025"],
    "ERROR_FLUSH_INTERVAL": ["1 minute", "0", "-5", "3601"],
    "ERROR_FLUSH_BATCH": ["many", "0", "-5", "100001"],
    "ERROR_FLUSH_CONSUMER": ["", "flusher one"],
    "ERROR_FLUSH_CLAIM_IDLE_SECONDS": ["1.5", "0"],
    "CELERY_BROKER_URL": ["sqs://queue", "redis://"],
    "CELERY_TASK_SOFT_TIME_LIMIT": ["sixty", "0", "86401"],
    "CELERY_TASK_TIME_LIMIT": ["1e3", "1", "86401"],
    "HEALTH_MAX_FLUSH_LAG_SECONDS": ["inf", "0", "-5"],
    "PROMETHEUS_MULTIPROC_DIR": ["", "/nonexistent/tutor-metrics"],
    "DJANGO_DEBUG": ["maybe", ""],
    "DJANGO_SECRET_KEY": [""],
    "DJANGO_ALLOWED_HOSTS": ["", "tutor.example.com,", "https://tutor.example.com", "tutor.example.com:8000"],
    "EVENT_MAX_CLOCK_SKEW_SECONDS": ["5 minutes", "-1", "86401"],
    "ERROR_RETENTION_DAYS": ["a year", "-1", "36501"],
    "EVENT_ID_WINDOW_DAYS": ["30d", "6", "0", "36501"],
    "LOG_LEVEL": ["verbose", ""],
    "GUNICORN_BIND": ["8000", "0.0.0.0:70000"],
    "GUNICORN_WORKERS": ["two", "0"],
    "GUNICORN_TIMEOUT": ["30s", "0"],
    "GUNICORN_MAX_REQUESTS": ["lots", "0"],
    "GUNICORN_ACCESS_LOG": ["/nonexistent/access.log"],
    "API_THROTTLE_RATES": [
        "client=abc",
        "client=0/min",
        "client=10/fortnight",
        "anonymous=10/min",
        "client",
        "client=1/s,client=2/s",
        "",
    ],
    "TOKEN_CACHE_SECONDS": ["1m", "-1", "3601"],
    "API_TRUSTED_PROXIES": ["one", "-1", "11"],
    "DJANGO_SECURE_SSL_REDIRECT": ["maybe"],
    "DJANGO_SECURE_HSTS_SECONDS": ["one year", "-1", "63072001"],
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": ["maybe"],
    "DJANGO_SECURE_HSTS_PRELOAD": ["maybe"],
    "DJANGO_SECURE_COOKIES": ["maybe"],
    "DJANGO_BEHIND_TLS_PROXY": ["maybe"],
    "DJANGO_CSRF_TRUSTED_ORIGINS": ["tutor.example.com", "https://tutor.example.com,"],
    "ADMIN_LOCKOUT_FAILURES": ["five", "0", "101"],
    "ADMIN_LOCKOUT_MINUTES": ["15m", "0", "1441"],
    "MEDIA_ROOT": ["", "media", str(SETTINGS)],
    "AUDIO_MAX_BYTES": ["5MB", "1023", "104857601"],
    "MEDIA_S3_BUCKET": ["Tutor_Media", "s3://tutor-media", "ab"],
    "MEDIA_S3_ENDPOINT_URL": ["minio.example.com:9000", "ftp://minio.example.com", "https://"],
    "MEDIA_S3_REGION": ["eu west 1", ""],
    "MEDIA_S3_CUSTOM_DOMAIN": ["https://media.example.com", "media.example.com/audio"],
}

# A valid value other than the default, the setting it gives (a dotted path) and what that setting then holds.
ACCEPTED_BY_SETTINGS = {
    "DATABASE_URL": ("postgresql://tutor:secret@db.example.com:5433/tutor", "DATABASES.default.PORT", 5433),
    "DATABASE_CONN_MAX_AGE": ("0", "DATABASES.default.CONN_MAX_AGE", 0),
    "DATABASE_REPLICA_URLS": (
        "postgres://tutor@replica-1.example.com/tutor,postgresql://tutor@replica-2.example.com:5433/tutor",
        "DATABASES.replica_2.PORT",
        5433,
    ),
    "REDIS_URL": ("rediss://cache.example.com:6380/1", "REDIS_URL", "rediss://cache.example.com:6380/1"),
    "CACHE_TIMEOUT": ("600", "CACHE_TIMEOUT", 600),
    "RANKING_CACHE_SECONDS": ("30", "RANKING_CACHE_SECONDS", 30),
    "EVENT_BUFFER_URL": ("", "EVENT_BUFFER_URL", ""),
    "EVENT_BUFFER_TIMEOUT": ("0.25", "EVENT_BUFFER_TIMEOUT", 0.25),
    "EVENT_STREAM_SHARDS": ("4", "EVENT_STREAM_SHARDS", 4),
    "ERROR_FLUSH_INTERVAL": (".5", "ERROR_FLUSH_INTERVAL", 0.5),
    "ERROR_FLUSH_BATCH": ("100000", "ERROR_FLUSH_BATCH", 100000),
    "ERROR_FLUSH_CONSUMER": ("flusher-2@host", "ERROR_FLUSH_CONSUMER", "flusher-2@host"),
    "ERROR_FLUSH_CLAIM_IDLE_SECONDS": ("120", "ERROR_FLUSH_CLAIM_IDLE_SECONDS", 120),
    "CELERY_BROKER_URL": (
        "amqp://guest@broker.example.com:5672//",
        "CELERY_BROKER_URL",
        "amqp://guest@broker.example.com:5672//",
    ),
    "CELERY_TASK_SOFT_TIME_LIMIT": ("30", "CELERY_TASK_SOFT_TIME_LIMIT", 30),
    "CELERY_TASK_TIME_LIMIT": ("45", "CELERY_TASK_TIME_LIMIT", 45),
    "HEALTH_MAX_FLUSH_LAG_SECONDS": ("7.5", "HEALTH_MAX_FLUSH_LAG_SECONDS", 7.5),
    "DJANGO_DEBUG": ("On", "DEBUG", True),
    "DJANGO_SECRET_KEY": ("s" * 60, "SECRET_KEY", "s" * 60),
    "DJANGO_ALLOWED_HOSTS": (
        "tutor.example.com,.example.org,[::1]",
        "ALLOWED_HOSTS",
        ["tutor.example.com", ".example.org", "[::1]"],
    ),
    "EVENT_MAX_CLOCK_SKEW_SECONDS": ("0", "EVENT_MAX_CLOCK_SKEW_SECONDS", 0),
    "ERROR_RETENTION_DAYS": ("365", "ERROR_RETENTION_DAYS", 365),
    "EVENT_ID_WINDOW_DAYS": ("7", "EVENT_ID_WINDOW_DAYS", 7),
    "LOG_LEVEL": ("warning", "LOGGING.root.level", "WARNING"),
    "API_THROTTLE_RATES": ("client=10/s", "REST_FRAMEWORK.DEFAULT_THROTTLE_RATES.client", "10/s"),
    "TOKEN_CACHE_SECONDS": ("0", "TOKEN_CACHE_SECONDS", 0),
    "API_TRUSTED_PROXIES": ("1", "REST_FRAMEWORK.NUM_PROXIES", 1),
    "DJANGO_SECURE_SSL_REDIRECT": ("YES", "SECURE_SSL_REDIRECT", True),
    "DJANGO_SECURE_HSTS_SECONDS": ("31536000", "SECURE_HSTS_SECONDS", 31536000),
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": ("1", "SECURE_HSTS_INCLUDE_SUBDOMAINS", True),
    "DJANGO_SECURE_HSTS_PRELOAD": ("on", "SECURE_HSTS_PRELOAD", True),
    "DJANGO_SECURE_COOKIES": ("true", "CSRF_COOKIE_SECURE", True),
    "DJANGO_BEHIND_TLS_PROXY": ("True", "SECURE_PROXY_SSL_HEADER", ["HTTP_X_FORWARDED_PROTO", "https"]),
    "DJANGO_CSRF_TRUSTED_ORIGINS": (
        "https://tutor.example.com,http://localhost:8000",
        "CSRF_TRUSTED_ORIGINS",
        ["https://tutor.example.com", "http://localhost:8000"],
    ),
    "ADMIN_LOCKOUT_FAILURES": ("3", "ADMIN_LOCKOUT_FAILURES", 3),
    "ADMIN_LOCKOUT_MINUTES": ("60", "ADMIN_LOCKOUT_MINUTES", 60),
    "MEDIA_ROOT": ("/var/lib/tutor/media", "MEDIA_ROOT", "/var/lib/tutor/media"),
    "AUDIO_MAX_BYTES": ("1048576", "AUDIO_MAX_BYTES", 1048576),
    "MEDIA_S3_BUCKET": ("tutor-media", "STORAGES.default.OPTIONS.bucket_name", "tutor-media"),
    "MEDIA_S3_ENDPOINT_URL": (
        "https://minio.example.com:9000",
        "STORAGES.default.OPTIONS.endpoint_url",
        "https://minio.example.com:9000",
    ),
    "MEDIA_S3_REGION": ("eu-west-1", "STORAGES.default.OPTIONS.region_name", "eu-west-1"),
    "MEDIA_S3_CUSTOM_DOMAIN": ("media.example.com", "STORAGES.default.OPTIONS.custom_domain", "media.example.com"),
}
ACCEPTED_BY_GUNICORN = {
    "GUNICORN_BIND": ("[::1]:8443", "bind", "[::1]:8443"),
    "GUNICORN_WORKERS": ("3", "workers", 3),
    "GUNICORN_TIMEOUT": ("60", "timeout", 60),
    "GUNICORN_MAX_REQUESTS": ("1000", "max_requests", 1000),
    "GUNICORN_ACCESS_LOG": ("-", "accesslog", "-"),
}

# An environment variable read in code: through a strict reader, or (not in settings) straight from os.environ.
READ = re.compile(
    r'(?:environment\.\w+|\benv\.\w+|os\.environ\.get|os\.getenv)\(\s*"(?P<call>[A-Z][A-Z0-9_]*)"'
    r'|os\.environ\[\s*"(?P<item>[A-Z][A-Z0-9_]*)"\]|"(?P<test>[A-Z][A-Z0-9_]*)" in os\.environ'
)
RAW_READ = re.compile(r"\benv\.\w+\(|os\.environ\.get\(|os\.getenv\(|in os\.environ|os\.environ\[[^\]]+\](?!\s*=)")


def documented() -> set[str]:
    """Return the variables named in the first column of the README's configuration table."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past the header and |---|
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def read_by(path: Path) -> set[str]:
    return {next(name for name in match.groups() if name) for match in READ.finditer(path.read_text())}


def read_in_code() -> set[str]:
    """Return every variable the app's code reads (the tests and the settings_test defaults aside)."""
    code = [*ROOT.glob("english_tutor/*.py"), *ROOT.glob("tutor/**/*.py")]
    return {name for path in code if "tests" not in path.parts for name in read_by(path)}


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


def gunicorn_config(*attributes: str, **env) -> subprocess.CompletedProcess:
    """Import gunicorn's config module as gunicorn does, printing the given attributes as JSON."""
    code = f"import json, english_tutor.gunicorn as c; print(json.dumps({{a: getattr(c, a) for a in {attributes!r}}}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


PROGRAMS = {"manage.py check": SETTINGS, "gunicorn config": GUNICORN}
# Every refused value, with the program that reads its variable (both, for a variable both read).
CASES = [
    (program, name, value)
    for name, values in REFUSED.items()
    for value in values
    for program, path in PROGRAMS.items()
    if name in read_by(path)
]


def batch(program: str, index: int) -> dict[str, str]:
    """Return the `index`-th refused value of every variable `program` reads that has that many."""
    read = read_by(PROGRAMS[program])
    return {name: values[index] for name, values in REFUSED.items() if name in read and index < len(values)}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict[tuple[str, int], subprocess.CompletedProcess]:
    """Start each program once per batch of refused values, in parallel (each start takes about a second).

    A start names every value it refuses, so one start proves the refusal of each value of its batch.
    """
    metrics = str(tmp_path_factory.mktemp("metrics"))  # gunicorn's config would otherwise make a directory

    def start(key: tuple[str, int]) -> subprocess.CompletedProcess:
        program, index = key
        if program == "manage.py check":
            # A valid key unless the batch's is refused; DEBUG stays off (unset or refused), so an empty key is refused.
            return manage("check", **{"DJANGO_SECRET_KEY": "k" * 60, **batch(program, index)})
        return gunicorn_config("workers", **{"PROMETHEUS_MULTIPROC_DIR": metrics, **batch(program, index)})

    keys = sorted({(program, REFUSED[name].index(value)) for program, name, value in CASES})
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        return dict(zip(keys, pool.map(start, keys), strict=True))


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


def test_every_variable_the_code_reads_has_a_row_in_the_readme():
    missing = read_in_code() - documented()

    assert not missing, f"read in code but missing from the README's configuration table: {sorted(missing)}"


def test_every_variable_in_the_readme_is_read_by_the_code():
    assert documented() <= read_in_code()


def test_every_variable_in_the_readme_has_a_refusal_test():
    assert documented() <= REFUSED.keys()


def test_settings_and_gunicorn_read_the_environment_only_through_the_strict_readers():
    for path in (SETTINGS, GUNICORN):
        assert not RAW_READ.findall(path.read_text()), path.name


@pytest.mark.parametrize("case", CASES, ids=[f"{program}-{name}={value!r}" for program, name, value in CASES])
def test_a_malformed_or_out_of_range_value_stops_the_start_naming_it(case, refusals):
    program, name, value = case
    result = refusals[program, REFUSED[name].index(value)]
    refusal = [line for line in result.stderr.splitlines() if re.search(rf"(?<![A-Z_]){name} must be", line)]

    assert result.returncode != 0
    assert refusal, f"{program} did not name {name}={value!r}:\n{result.stderr}"
    assert not value or repr(value) in refusal[0]  # the value as given, and what is allowed
    if program == "gunicorn config":
        assert "Traceback" not in result.stderr


def test_a_hard_time_limit_not_past_the_soft_one_stops_the_start():
    result = manage("check", DJANGO_DEBUG="true", CELERY_TASK_SOFT_TIME_LIMIT="95")

    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT must be greater than CELERY_TASK_SOFT_TIME_LIMIT (95), not '90'." in result.stderr


def test_s3_options_without_a_bucket_stop_the_start():
    result = manage("check", DJANGO_DEBUG="true", MEDIA_S3_REGION="eu-west-1")

    assert result.returncode != 0
    assert "MEDIA_S3_ENDPOINT_URL, MEDIA_S3_REGION and MEDIA_S3_CUSTOM_DOMAIN need MEDIA_S3_BUCKET." in result.stderr


def test_a_cluster_buffer_needs_a_node_without_a_database_number_and_has_sixteen_shards_by_default():
    without_url = manage("check", DJANGO_DEBUG="true", EVENT_BUFFER_URL="", EVENT_BUFFER_CLUSTER="true")
    numbered = manage("check", DJANGO_DEBUG="true", EVENT_BUFFER_URL="redis://node-1:7000/2", EVENT_BUFFER_CLUSTER="1")
    code = "from django.conf import settings; print(settings.EVENT_STREAM_SHARDS)"
    node = {"EVENT_BUFFER_URL": "redis://node-1:7000", "EVENT_BUFFER_CLUSTER": "true"}
    started = manage("shell", "--verbosity", "0", "-c", code, DJANGO_DEBUG="true", **node)

    assert "EVENT_BUFFER_CLUSTER needs EVENT_BUFFER_URL to name a node of the cluster." in without_url.stderr
    assert "EVENT_BUFFER_CLUSTER needs EVENT_BUFFER_URL without a database number" in numbered.stderr
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["16"]


def test_more_nodes_of_a_cluster_are_taken_for_a_cluster_only():
    others = "redis://node-2:7000,rediss://node-3:7000"
    code = "from django.conf import settings; print(*settings.EVENT_BUFFER_CLUSTER_NODES)"
    node = {"EVENT_BUFFER_URL": "redis://node-1:7000", "EVENT_BUFFER_CLUSTER_NODES": others}
    one_redis = manage("check", DJANGO_DEBUG="true", **node)
    started = manage("shell", "--verbosity", "0", "-c", code, DJANGO_DEBUG="true", EVENT_BUFFER_CLUSTER="true", **node)

    assert "EVENT_BUFFER_CLUSTER_NODES needs EVENT_BUFFER_CLUSTER=true." in one_redis.stderr
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == others.split(",")


def test_a_refused_url_never_shows_its_password():
    result = manage(
        "check",
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://tutor:hunter2@db.example.com:99999/tutor",
        DATABASE_REPLICA_URLS="postgres://tutor:hunter3@r1.example.com/tutor,postgres://tutor:hunter4@r2.example.com",
    )

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "DATABASE_REPLICA_URLS" in result.stderr
    assert "hunter" not in result.stderr


def test_replicas_of_a_database_that_is_not_postgresql_stop_the_start():
    result = manage(
        "check",
        DJANGO_DEBUG="true",
        DATABASE_URL="sqlite:////tmp/tutor.sqlite3",
        EVENT_BUFFER_URL="",
        DATABASE_REPLICA_URLS="postgres://tutor@replica.example.com/tutor",
    )

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS needs DATABASE_URL to point at PostgreSQL." in result.stderr


def test_replicas_get_an_alias_each_that_only_reads_and_mirrors_the_primary_in_tests():
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.DATABASE_REPLICAS, settings.DATABASE_ROUTERS, settings.DATABASES['replica_1']]))"
    )
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        code,
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://tutor:secret@primary.example.com/tutor",
        DATABASE_REPLICA_URLS="postgres://tutor:secret@replica.example.com/tutor,postgres://tutor@replica-2.example.com/tutor",
    )

    assert result.returncode == 0, result.stderr
    aliases, routers, first = json.loads(result.stdout.strip().splitlines()[-1])
    assert aliases == ["replica_1", "replica_2"]
    assert routers == ["tutor.replicas.ReplicaRouter"]
    assert (first["HOST"], first["NAME"], first["TEST"]["MIRROR"]) == ("replica.example.com", "tutor", "default")


def test_valid_values_start_and_mean_what_they_say(tmp_path):
    accepted = {
        **ACCEPTED_BY_SETTINGS,
        "PROMETHEUS_MULTIPROC_DIR": (str(tmp_path), "PROMETHEUS_MULTIPROC_DIR", str(tmp_path)),
    }
    env = {name: value for name, (value, _, _) in accepted.items()}
    tops = sorted({path.split(".")[0] for _, path, _ in accepted.values()})
    code = (
        "import json; from django.conf import settings; from django.core.management import call_command; "
        f"call_command('check'); print(json.dumps({{top: getattr(settings, top) for top in {tops!r}}}))"
    )

    result = manage("shell", "--verbosity", "0", "-c", code, **env)

    assert result.returncode == 0, result.stderr
    held = json.loads(result.stdout.strip().splitlines()[-1])
    assert {
        name: functools.reduce(operator.getitem, path.split("."), held) for name, (_, path, _) in accepted.items()
    } == {name: expected for name, (_, _, expected) in accepted.items()}


def test_valid_gunicorn_values_load_its_config(tmp_path):
    env = {name: value for name, (value, _, _) in ACCEPTED_BY_GUNICORN.items()}
    expected = {attribute: held for _, (_, attribute, held) in ACCEPTED_BY_GUNICORN.items()}

    result = gunicorn_config(*expected, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), **env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_gunicorn_makes_a_metrics_directory_when_none_is_given():
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    code = "import os, english_tutor.gunicorn; print(os.environ['PROMETHEUS_MULTIPROC_DIR'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)

    made = Path(result.stdout.strip())
    assert made.is_dir()
    made.rmdir()
