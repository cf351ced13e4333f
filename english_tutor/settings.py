"""Settings for English Tutor, every knob read from the environment (see the README's table).

Every variable goes through a strict reader of english_tutor.environment: a malformed or
out-of-range value stops the process at start-up (web, worker, beat and management commands alike)
with the variable's name, its value and what is allowed, rather than running with a surprise.
The refusals are collected from here to environment.check(), the last line, so that one failed
start names every one of them.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from english_tutor import environment

environment.collect()

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = environment.boolean("DJANGO_DEBUG", default=False)
SECRET_KEY = environment.text("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        environment.refuse("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-used-only-with-DJANGO_DEBUG-on"
ALLOWED_HOSTS = environment.hosts("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_jsonform",
    "import_export",
    "simple_history",
    "tutor",
]

MIDDLEWARE = [
    "tutor.middleware.RequestMetricsMiddleware",  # first: it times every answer, the others' included
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # after authentication: a version names who made it
    "tutor.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it turns a refused admin sign-in into the lockout page, which then gets the others' headers.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "english_tutor.urls"
WSGI_APPLICATION = "english_tutor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": environment.database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = environment.integer("DATABASE_CONN_MAX_AGE", default=60, low=0, high=86_400)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
_on_postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _on_postgres:
    # Parameters bound by the server, so psycopg prepares each statement a connection runs often:
    # PostgreSQL then plans a cold ranking's query once per connection, not once per request.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
# Streaming replicas of DATABASE_URL, one alias each (replica_1, ...). Only the reads tutor.replicas
# chooses go there, and only to a replica that has replayed what the primary held when it was chosen.
_replicas = environment.postgres_databases("DATABASE_REPLICA_URLS")
if _replicas and not _on_postgres:
    environment.refuse("DATABASE_REPLICA_URLS needs DATABASE_URL to point at PostgreSQL.")
    _replicas = []
for _number, _replica in enumerate(_replicas, start=1):
    _replica["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    # No health check when a kept connection is reused: tutor.replicas trusts a replica's replay
    # position only with the connection it was read through, and a read that fails on a dead
    # connection is answered from the primary.
    _replica["CONN_HEALTH_CHECKS"] = False
    _replica.setdefault("OPTIONS", {})["server_side_binding"] = True
    _replica["OPTIONS"].setdefault("connect_timeout", 2)  # a replica that does not answer is not waited for
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_number}"] = _replica
DATABASE_REPLICAS = [alias for alias in DATABASES if alias != "default"]
DATABASE_ROUTERS = ["tutor.replicas.ReplicaRouter"] if DATABASE_REPLICAS else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = environment.url("REDIS_URL", default="", schemes=("redis", "rediss"), empty_allowed=True)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tutor",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # The cache is an optimisation: when Redis is down, answer from the database.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Only a cache every process shares may hold what another process can change (learners' levels
# and attempts): a process-local one would go on answering from its own copy.
CACHE_IS_SHARED = bool(REDIS_URL)
CACHE_TIMEOUT = environment.integer("CACHE_TIMEOUT", default=300, low=1, high=86_400)
# How long what readers keep of a learner (counts, level, attempts, last answer) lives in the
# buffer's Redis (every change that matters invalidates it at once; this only bounds how late an
# error leaves the trailing edge of a last_n_days window).
RANKING_CACHE_SECONDS = environment.integer("RANKING_CACHE_SECONDS", default=300, low=1, high=86_400)

# The real-time buffer of error events; it needs PostgreSQL as the database it flushes into.
# Set to the empty string, no buffer: events are written straight to the database.
EVENT_BUFFER_URL = environment.url(
    "EVENT_BUFFER_URL", default=REDIS_URL if _on_postgres else "", schemes=("redis", "rediss"), empty_allowed=True
)
if EVENT_BUFFER_URL and not _on_postgres:
    environment.refuse("EVENT_BUFFER_URL needs DATABASE_URL to point at PostgreSQL.")
# A Redis Cluster (EVENT_BUFFER_URL names any of its nodes): events spread over shards, one per stream.
EVENT_BUFFER_CLUSTER = environment.boolean("EVENT_BUFFER_CLUSTER", default=False)
if EVENT_BUFFER_CLUSTER and not EVENT_BUFFER_URL:
    environment.refuse("EVENT_BUFFER_CLUSTER needs EVENT_BUFFER_URL to name a node of the cluster.")
if EVENT_BUFFER_CLUSTER and urlsplit(EVENT_BUFFER_URL).path.strip("/") not in ("", "0"):
    environment.refuse("EVENT_BUFFER_CLUSTER needs EVENT_BUFFER_URL without a database number (a cluster has only 0).")
# More nodes of that cluster, to find it through while the one EVENT_BUFFER_URL names is down: a
# process that starts meanwhile would reach none.
EVENT_BUFFER_CLUSTER_NODES = environment.urls("EVENT_BUFFER_CLUSTER_NODES", schemes=("redis", "rediss"))
if EVENT_BUFFER_CLUSTER_NODES and not EVENT_BUFFER_CLUSTER:
    environment.refuse("EVENT_BUFFER_CLUSTER_NODES needs EVENT_BUFFER_CLUSTER=true.")
# Sixteen on a cluster: at least a few shards per node of a small cluster, so nodes added later
# take some; one on a single Redis, whose keys then keep the names of the release before shards.
EVENT_STREAM_SHARDS = environment.integer(
    "EVENT_STREAM_SHARDS", default=16 if EVENT_BUFFER_CLUSTER else 1, low=1, high=1024
)
EVENT_BUFFER_TIMEOUT = environment.number("EVENT_BUFFER_TIMEOUT", default=0.5, high=60)
ERROR_FLUSH_INTERVAL = environment.number("ERROR_FLUSH_INTERVAL", default=2.0, high=3600)
ERROR_FLUSH_BATCH = environment.integer("ERROR_FLUSH_BATCH", default=200, low=1, high=100_000)
ERROR_FLUSH_CONSUMER = environment.word("ERROR_FLUSH_CONSUMER", default="flusher")
ERROR_FLUSH_CLAIM_IDLE_SECONDS = environment.integer("ERROR_FLUSH_CLAIM_IDLE_SECONDS", default=60, low=1, high=86_400)
# Errors older than this many days are dropped a month at a time (tutor.partitions); 0 keeps everything.
ERROR_RETENTION_DAYS = environment.integer("ERROR_RETENTION_DAYS", default=0, low=0, high=36_500)
# How long an event id is remembered (tutor_event_receipt): a retry within it is never counted twice.
EVENT_ID_WINDOW_DAYS = environment.integer("EVENT_ID_WINDOW_DAYS", default=30, low=7, high=36_500)
# /healthz answers "degraded" once the oldest unflushed event is older than this.
HEALTH_MAX_FLUSH_LAG_SECONDS = environment.number("HEALTH_MAX_FLUSH_LAG_SECONDS", default=60.0, high=86_400)
# prometheus_client reads it itself, at import (tutor.metrics too); checked here so that a directory
# that is missing or read-only stops the start, not the first request that counts something.
PROMETHEUS_MULTIPROC_DIR = environment.directory("PROMETHEUS_MULTIPROC_DIR")

CELERY_BROKER_URL = environment.url(
    "CELERY_BROKER_URL", default=REDIS_URL or "memory://", schemes=("redis", "rediss", "memory", "amqp")
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = environment.integer("CELERY_TASK_SOFT_TIME_LIMIT", default=60, low=1, high=86_400)
CELERY_TASK_TIME_LIMIT = environment.integer("CELERY_TASK_TIME_LIMIT", default=90, low=2, high=86_400)
# The soft limit lets a task stop cleanly; at or past the hard limit it would never get the chance.
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    environment.refuse(
        f"CELERY_TASK_TIME_LIMIT must be greater than CELERY_TASK_SOFT_TIME_LIMIT ({CELERY_TASK_SOFT_TIME_LIMIT}), "
        f"not '{CELERY_TASK_TIME_LIMIT}'."
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "flush-error-events": {
        "task": "tutor.tasks.flush_error_events",
        "schedule": ERROR_FLUSH_INTERVAL,
        # A tick that waited longer than one interval is superseded by the next one.
        "options": {"expires": max(ERROR_FLUSH_INTERVAL, 1.0)},
    },
    "keep-error-storage": {
        "task": "tutor.tasks.keep_error_storage",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked-out sign-in before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# The brake on password guessing at the admin's login (tutor/lockout.py says what it guarantees).
ADMIN_LOCKOUT_FAILURES = environment.integer("ADMIN_LOCKOUT_FAILURES", default=5, low=1, high=100)
ADMIN_LOCKOUT_MINUTES = environment.integer("ADMIN_LOCKOUT_MINUTES", default=15, low=1, high=1440)
AXES_ONLY_ADMIN_SITE = True
# Counted in PostgreSQL, so every worker and every instance sees the same failures.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = ADMIN_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_LOCKOUT_MINUTES)
# Attempts refused while locked are not recorded: a flood of them only reads (axes would otherwise
# append each one to its row), and a lock ends at most ADMIN_LOCKOUT_MINUTES after the failure that closed it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# One count per username and one per address, whatever the browser: either reaching the limit locks.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The address by the API's rule, with its trusted-proxy count (NUM_PROXIES, from API_TRUSTED_PROXIES).
AXES_CLIENT_IP_CALLABLE = "tutor.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "tutor.lockout.lockout_response"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve Swagger/Redoc assets straight from the installed packages when collectstatic has not run.
WHITENOISE_USE_FINDERS = True
# Chart.js (the learner's page in the admin) from Debian's libjs-chart.js, which the Makefile installs, as
# static/chart.js/; without the package the page shows its counts and says what to install.
CHART_JS_DIR = Path("/usr/share/javascript/chart.js")
STATICFILES_DIRS = [("chart.js", CHART_JS_DIR)] if CHART_JS_DIR.is_dir() else []

# Uploaded files (the recordings of pronunciation items): on this server's disk, served by tutor.media,
# unless an S3 bucket is named; its URLs then go into the exercises' content as they are, so they
# must not expire (no signed query strings) and the bucket must let anyone read them.
MEDIA_URL = "/media/"
MEDIA_ROOT = environment.absolute_path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
AUDIO_MAX_BYTES = environment.integer("AUDIO_MAX_BYTES", default=5 * 1024 * 1024, low=1024, high=100 * 1024 * 1024)
MEDIA_S3_BUCKET = environment.bucket("MEDIA_S3_BUCKET")
_s3_options = {
    "endpoint_url": environment.url("MEDIA_S3_ENDPOINT_URL", default="", schemes=("https", "http"), empty_allowed=True),
    "region_name": environment.word("MEDIA_S3_REGION", default=""),
    "custom_domain": environment.domain("MEDIA_S3_CUSTOM_DOMAIN"),
}
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            **{option: value for option, value in _s3_options.items() if value},
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }
elif any(_s3_options.values()):
    environment.refuse("MEDIA_S3_ENDPOINT_URL, MEDIA_S3_REGION and MEDIA_S3_CUSTOM_DOMAIN need MEDIA_S3_BUCKET.")

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["tutor.json_codec.FastJSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tutor.json_codec.JSONFirstNegotiation",
    # JSON only: a form's text ("null", "") cannot say what JSON says, so the documented contract is JSON.
    "DEFAULT_PARSER_CLASSES": ["tutor.json_codec.FastJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "tutor.pagination.EnvelopePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tutor.exceptions.handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tutor.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["tutor.throttling.ClientRateThrottle"],
    # Only the scopes tutor.throttling defines: a misspelt scope would leave its requests unthrottled.
    "DEFAULT_THROTTLE_RATES": environment.rates(
        "API_THROTTLE_RATES",
        default={"client": "6000/min", "auth_failures": "30/min"},
        scopes=("client", "auth_failures"),
    ),
    # A client's IP, for throttling: the socket's peer, unless N proxies in front each append the
    # address they saw to X-Forwarded-For; then its Nth address from the end. What a client writes there is ignored.
    "NUM_PROXIES": environment.integer("API_TRUSTED_PROXIES", default=0, low=0, high=10),
}
# How long a verified API key is trusted from the cache (a revoked key stops working within this).
TOKEN_CACHE_SECONDS = environment.integer("TOKEN_CACHE_SECONDS", default=60, low=0, high=3600)

SPECTACULAR_SETTINGS = {
    "TITLE": "English Tutor API",
    "DESCRIPTION": "Recommends English-speaking exercises from the errors a learner makes in conversation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tutor.schema.add_error_responses",
        "tutor.schema.add_rules",
        "tutor.schema.add_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ErrorCategoryEnum": "tutor.taxonomy.ErrorCategory",
        "ErrorSubCategoryEnum": "tutor.taxonomy.ErrorSubCategory",
        "LevelEnum": "tutor.taxonomy.CEFRLevel",
        "ExerciseTypeEnum": "tutor.taxonomy.ExerciseType",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": environment.choice("LOG_LEVEL", default="INFO", choices=environment.LOG_LEVELS),
    },
}

# Behind TLS (see the README's deployment section), switch these on from the environment.
SECURE_SSL_REDIRECT = environment.boolean("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Up to two years; the browsers' preload list asks for at least one (31536000).
SECURE_HSTS_SECONDS = environment.integer("DJANGO_SECURE_HSTS_SECONDS", default=0, low=0, high=63_072_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = environment.boolean("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = environment.boolean("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = environment.boolean("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = environment.origins("DJANGO_CSRF_TRUSTED_ORIGINS")
if environment.boolean("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# How far in the future (clock skew) an error's timestamp_utc may be before it is refused.
EVENT_MAX_CLOCK_SKEW_SECONDS = environment.integer("EVENT_MAX_CLOCK_SKEW_SECONDS", default=300, low=0, high=86_400)

# Last: stop the start here, naming every value refused above (add settings above this line).
environment.check()

# A version is restored through tutor.exercise_history.restore (validated, recordings kept true), never by
# django-simple-history's own revert form.
SIMPLE_HISTORY_REVERT_DISABLED = True
