"""Settings for English Tutor, every knob read from the environment (see the README's table).

A malformed value stops the process at start-up with the variable's name, rather than running
with a surprise.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-used-only-with-DJANGO_DEBUG-on"
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
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
    "tutor.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, so psycopg prepares each statement a connection runs often:
    # PostgreSQL then plans a cold ranking's query once per connection, not once per request.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
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
CACHE_TIMEOUT = env.int("CACHE_TIMEOUT", default=300)
# How long what readers keep of a learner (counts, level, attempts, last answer) lives in the
# buffer's Redis (every change that matters invalidates it at once; this only bounds how late an
# error leaves the trailing edge of a last_n_days window).
RANKING_CACHE_SECONDS = env.int("RANKING_CACHE_SECONDS", default=300)

# The real-time buffer of error events; it needs PostgreSQL as the database it flushes into.
_on_postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
EVENT_BUFFER_URL = env.str("EVENT_BUFFER_URL", default=REDIS_URL if _on_postgres else "")
if EVENT_BUFFER_URL and not _on_postgres:
    raise ImproperlyConfigured("EVENT_BUFFER_URL needs DATABASE_URL to point at PostgreSQL.")
EVENT_BUFFER_TIMEOUT = env.float("EVENT_BUFFER_TIMEOUT", default=0.5)
ERROR_FLUSH_INTERVAL = env.float("ERROR_FLUSH_INTERVAL", default=2.0)
ERROR_FLUSH_BATCH = env.int("ERROR_FLUSH_BATCH", default=200)
ERROR_FLUSH_CONSUMER = env.str("ERROR_FLUSH_CONSUMER", default="flusher")
ERROR_FLUSH_CLAIM_IDLE_SECONDS = env.int("ERROR_FLUSH_CLAIM_IDLE_SECONDS", default=60)
# /healthz answers "degraded" once the oldest unflushed event is older than this.
HEALTH_MAX_FLUSH_LAG_SECONDS = env.float("HEALTH_MAX_FLUSH_LAG_SECONDS", default=60.0)
if HEALTH_MAX_FLUSH_LAG_SECONDS <= 0:
    raise ImproperlyConfigured("HEALTH_MAX_FLUSH_LAG_SECONDS must be a positive number of seconds.")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "flush-error-events": {
        "task": "tutor.tasks.flush_error_events",
        "schedule": ERROR_FLUSH_INTERVAL,
        # A tick that waited longer than one interval is superseded by the next one.
        "options": {"expires": max(ERROR_FLUSH_INTERVAL, 1.0)},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["tutor.json_codec.FastJSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tutor.json_codec.JSONFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "tutor.json_codec.FastJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
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
    "DEFAULT_THROTTLE_RATES": env.dict("API_THROTTLE_RATES", default={"client": "6000/min"}),
}
# How long a verified API token is trusted from the cache (a revoked token stops working within this).
TOKEN_CACHE_SECONDS = env.int("TOKEN_CACHE_SECONDS", default=60)

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
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Behind TLS (see the README's deployment section), switch these on from the environment.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# How far in the future (clock skew) an error's timestamp_utc may be before it is refused.
EVENT_MAX_CLOCK_SKEW_SECONDS = env.int("EVENT_MAX_CLOCK_SKEW_SECONDS", default=300)
