"""Studio settings, read from the environment.

Every variable read here is listed in the README's configuration table with its default. A
malformed value raises ImproperlyConfigured at start-up (see studio/env.py).
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from studio.env import env_bool, env_choice, env_int, env_list, env_secret, env_str
from studio.oidc_settings import oidc_settings

BASE_DIR = Path(__file__).resolve().parent.parent

# Local state (the SQLite database, stored files, bot spools) lives here by default.
VAR_DIR = Path(env_str("STUDIO_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Development only: never used when DEBUG is off.
    SECRET_KEY = "development-only-key-not-for-production-use-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "mozilla_django_oidc",
    "axes",
    "apps.accounts",
    "apps.projects",
    "apps.flows",
    "apps.nlu",
    "apps.training",
    "apps.ingestion",
    "apps.analytics",
    "apps.annotation",
    "apps.testing",
    "apps.comparison",
    "workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studio.csp.ContentSecurityPolicyMiddleware",
    "studio.nul.RefuseNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"
ASGI_APPLICATION = "studio.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.projects.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another (postgres://user@host/db).
_sqlite_default = f"sqlite:///{VAR_DIR / 'studio.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", _sqlite_default),
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a database URL Studio understands: {exc}"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, consumers, ingester) share the file: WAL lets readers work
    # beside a writer, and IMMEDIATE transactions take the write lock up front instead of
    # failing half-way with "database is locked".
    _sqlite_name = DATABASES["default"]["NAME"]
    if _sqlite_name and _sqlite_name != ":memory:":
        Path(_sqlite_name).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "application_name", env_str("DATABASE_APPLICATION_NAME", "studio")
    )
else:
    raise ImproperlyConfigured(
        f"DATABASE_URL names {DATABASES['default']['ENGINE']}: Studio supports "
        "PostgreSQL (postgres://...) and SQLite (sqlite:///...)."
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# Single sign-on through OpenID Connect (Keycloak or any provider), off unless OIDC_RP_CLIENT_ID
# is set: defines OIDC_ENABLED, OIDC_LOCAL_LOGIN, OIDC_ROLES_CLAIM, the OIDC_* settings that
# mozilla-django-oidc reads, and AUTHENTICATION_BACKENDS (see studio/oidc_settings.py).
globals().update(oidc_settings(AUTHENTICATION_BACKENDS))
# Sign-in from Rasa Pro's `rasa studio` CLI through Studio's own Keycloak-compatible realm
# (/auth/realms/rasa-studio/, apps/accounts/realm.py). `upload` and `push` never refresh, so the
# access token lasts a working day; the refresh token lets `download`, `pull` and `train` get a
# new one for a week after the last sign-in or refresh.
STUDIO_CLI_ACCESS_TOKEN_SECONDS = env_int("STUDIO_CLI_ACCESS_TOKEN_SECONDS", 12 * 3600, minimum=60)
STUDIO_CLI_REFRESH_TOKEN_SECONDS = env_int(
    "STUDIO_CLI_REFRESH_TOKEN_SECONDS", 7 * 24 * 3600, minimum=60
)
if STUDIO_CLI_REFRESH_TOKEN_SECONDS < STUDIO_CLI_ACCESS_TOKEN_SECONDS:
    raise ImproperlyConfigured(
        "STUDIO_CLI_REFRESH_TOKEN_SECONDS must be at least STUDIO_CLI_ACCESS_TOKEN_SECONDS: a "
        "refresh token that expires first could never be used."
    )
# First: refuses password logins for an account or an address with too many recent failures.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "projects:welcome"
LOGOUT_REDIRECT_URL = "accounts:login"

# Brute-force protection (django-axes, attempts stored in the database so every web replica
# sees them): STUDIO_LOGIN_FAILURE_LIMIT failed logins for one account (from any address), or
# failed logins and failed API tokens from one address (for any account), lock that account or
# address for STUDIO_LOGIN_COOLOFF_MINUTES after the last failure. SuperUsers unlock on the
# Users pages. See apps/accounts/lockout.py.
LOGIN_FAILURE_LIMIT = env_int("STUDIO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("STUDIO_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
# How many proxies in front of Studio append to X-Forwarded-For; 0: the client address is the
# connection's (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("STUDIO_TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_ENABLED = True
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = "apps.accounts.lockout.lockout_parameters"
AXES_WHITELIST_CALLABLE = "apps.accounts.lockout.not_counted"
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
# Failures while locked are not recorded: a lockout ends on time however long someone tries.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not recorded (the table would only grow)
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("STUDIO_STORAGE_ROOT", str(VAR_DIR / "storage")))
MEDIA_URL = "/media/"
# Stored files (model archives): the filesystem by default, or a bucket (django-storages).
STUDIO_STORAGE_BACKEND = env_choice(
    "STUDIO_STORAGE_BACKEND", "filesystem", ["filesystem", "s3", "gcs", "azure"]
)
STUDIO_STORAGE_PREFIX = env_str("STUDIO_STORAGE_PREFIX", "")


def _bucket_storage() -> dict:
    def required(name: str) -> str:
        value = env_str(name)
        if not value:
            raise ImproperlyConfigured(
                f"{name} must be set when STUDIO_STORAGE_BACKEND={STUDIO_STORAGE_BACKEND}."
            )
        return value

    if STUDIO_STORAGE_BACKEND == "s3":
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": required("STUDIO_S3_BUCKET"),
                "endpoint_url": env_str("STUDIO_S3_ENDPOINT_URL") or None,
                "region_name": env_str("STUDIO_S3_REGION") or None,
                # Empty: boto3's own chain (AWS_* variables, instance roles, ~/.aws).
                "access_key": env_secret("STUDIO_S3_ACCESS_KEY_ID"),
                "secret_key": env_secret("STUDIO_S3_SECRET_ACCESS_KEY"),
                "location": STUDIO_STORAGE_PREFIX,
                "file_overwrite": False,
            },
        }
    if STUDIO_STORAGE_BACKEND == "gcs":
        # Credentials: GOOGLE_APPLICATION_CREDENTIALS or the workload identity.
        return {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": required("STUDIO_GCS_BUCKET"),
                "project_id": env_str("STUDIO_GCS_PROJECT") or None,
                "location": STUDIO_STORAGE_PREFIX,
                "file_overwrite": False,
            },
        }
    return {
        "BACKEND": "storages.backends.azure_storage.AzureStorage",
        "OPTIONS": {
            "azure_container": required("STUDIO_AZURE_CONTAINER"),
            "account_name": env_str("STUDIO_AZURE_ACCOUNT_NAME") or None,
            "account_key": env_secret("STUDIO_AZURE_ACCOUNT_KEY"),
            "connection_string": env_secret("STUDIO_AZURE_CONNECTION_STRING"),
            "location": STUDIO_STORAGE_PREFIX,
            "overwrite_files": False,
        },
    }


STORAGES = {
    "default": (
        {"BACKEND": "django.core.files.storage.FileSystemStorage"}
        if STUDIO_STORAGE_BACKEND == "filesystem"
        else _bucket_storage()
    ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security. Production sits behind TLS; these defaults make `manage.py check --deploy` clean.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and pods (the Kubernetes runner's signed links) reach the web over the cluster's own
# network, at STUDIO_KUBERNETES_WEB_URL, not through the ingress's TLS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^pods/"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", not DEBUG):
    # The ingress terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Limits on what a request may carry (uploads of assistant files, API bodies).
STUDIO_MAX_UPLOAD_BYTES = env_int("STUDIO_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = STUDIO_MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# Imports larger than this (bytes of files, or items: flows, responses, slots, examples...) run
# in the background on the orchestrator instead of in the request.
STUDIO_IMPORT_BACKGROUND_BYTES = env_int(
    "STUDIO_IMPORT_BACKGROUND_BYTES", 2 * 1024 * 1024, minimum=0
)
STUDIO_IMPORT_BACKGROUND_ITEMS = env_int("STUDIO_IMPORT_BACKGROUND_ITEMS", 2000, minimum=0)
# Multipart uploads are bounded while they stream in (see apps/projects/upload_handlers.py).
FILE_UPLOAD_HANDLERS = [
    "apps.projects.upload_handlers.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # `?format=` is the export endpoint's own parameter (zip or json), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Studio API",
    "DESCRIPTION": "Assistants, their Rasa files, training and conversations.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "TrainingJobStatusEnum": "apps.training.models.TrainingJob.Status",
        "ImportJobStatusEnum": "apps.projects.models.ImportJob.Status",
        "TestRunStatusEnum": "apps.testing.models.TestRun.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "studio.schema.add_error_responses",
    ],
}

# Training and running (see the README's "Processes").
STUDIO_ENGINE = env_choice("STUDIO_ENGINE", "builtin", ["builtin", "rasa"])
STUDIO_RUNNER = env_choice("STUDIO_RUNNER", "local", ["local", "kubernetes"])
STUDIO_RASA_TRAIN_COMMAND = env_str(
    "STUDIO_RASA_TRAIN_COMMAND",
    "rasa train --domain {project}/domain.yml --data {project}/data --config {project}/config.yml"
    " --out {out} --fixed-model-name {name}",
)
STUDIO_RASA_RUN_COMMAND = env_str(
    "STUDIO_RASA_RUN_COMMAND",
    "rasa run --enable-api --model {model} --port {port} --endpoints {endpoints}",
)
STUDIO_LEASE_SECONDS = env_int("STUDIO_LEASE_SECONDS", 60, minimum=5)
STUDIO_HEARTBEAT_SECONDS = env_int("STUDIO_HEARTBEAT_SECONDS", 5, minimum=1)
STUDIO_BOT_IDLE_SECONDS = env_int("STUDIO_BOT_IDLE_SECONDS", 3600, minimum=60)
STUDIO_BOT_START_TIMEOUT = env_int("STUDIO_BOT_START_TIMEOUT", 120, minimum=5)
STUDIO_TRAINING_TIMEOUT = env_int("STUDIO_TRAINING_TIMEOUT", 3600, minimum=10)
# How many recent user messages a version comparison replays through both models.
STUDIO_COMPARISON_SAMPLE_SIZE = env_int("STUDIO_COMPARISON_SAMPLE_SIZE", 200, minimum=1)
# Train only what changed: the cache of trained components (workers.training_cache).
STUDIO_TRAINING_CACHE = env_bool("STUDIO_TRAINING_CACHE", True)
STUDIO_TRAINING_CACHE_DIR = Path(
    env_str("STUDIO_TRAINING_CACHE_DIR", str(VAR_DIR / "training-cache"))
)
STUDIO_TRAINING_CACHE_MAX_MB = env_int("STUDIO_TRAINING_CACHE_MAX_MB", 2048, minimum=0)
STUDIO_TRAINING_CACHE_MAX_AGE_DAYS = env_int("STUDIO_TRAINING_CACHE_MAX_AGE_DAYS", 30, minimum=0)
# The largest model archive a training pod may send back (the Kubernetes runner).
STUDIO_MAX_MODEL_BYTES = env_int("STUDIO_MAX_MODEL_BYTES", 2 * 1024**3, minimum=1024)
# STUDIO_RUNNER=kubernetes: trainings are Jobs, bots Deployments (workers/kubernetes.py).
STUDIO_KUBERNETES_NAMESPACE = env_str("STUDIO_KUBERNETES_NAMESPACE", "")
STUDIO_KUBERNETES_KUBECONFIG = env_str("STUDIO_KUBERNETES_KUBECONFIG", "")
STUDIO_KUBERNETES_IMAGE = env_str("STUDIO_KUBERNETES_IMAGE", "studio:latest")
STUDIO_KUBERNETES_TRAINING_IMAGE = env_str("STUDIO_KUBERNETES_TRAINING_IMAGE", "")
STUDIO_KUBERNETES_BOT_IMAGE = env_str("STUDIO_KUBERNETES_BOT_IMAGE", "")
STUDIO_KUBERNETES_IMAGE_PULL_POLICY = env_choice(
    "STUDIO_KUBERNETES_IMAGE_PULL_POLICY", "IfNotPresent", ["Always", "IfNotPresent", "Never"]
)
STUDIO_KUBERNETES_IMAGE_PULL_SECRETS = env_list("STUDIO_KUBERNETES_IMAGE_PULL_SECRETS", [])
STUDIO_KUBERNETES_SERVICE_ACCOUNT = env_str("STUDIO_KUBERNETES_SERVICE_ACCOUNT", "")
STUDIO_KUBERNETES_NODE_SELECTOR = env_list("STUDIO_KUBERNETES_NODE_SELECTOR", [])
for _pair in STUDIO_KUBERNETES_NODE_SELECTOR:
    if "=" not in _pair:
        raise ImproperlyConfigured(
            f"STUDIO_KUBERNETES_NODE_SELECTOR has {_pair!r}: write label=value pairs."
        )
STUDIO_KUBERNETES_POD_TEMPLATE = env_str("STUDIO_KUBERNETES_POD_TEMPLATE", "")
STUDIO_KUBERNETES_WEB_URL = env_str("STUDIO_KUBERNETES_WEB_URL", "http://studio-web:8000")
STUDIO_KUBERNETES_BOT_PORT = env_int("STUDIO_KUBERNETES_BOT_PORT", 5005, minimum=1)
STUDIO_KUBERNETES_BOT_URL = env_str(
    "STUDIO_KUBERNETES_BOT_URL", "http://{service}.{namespace}.svc:{port}"
)
STUDIO_KUBERNETES_JOB_TTL_SECONDS = env_int("STUDIO_KUBERNETES_JOB_TTL_SECONDS", 3600, minimum=0)
# What bots and trainings see of the environment: nothing of the worker's own, only the variables
# named here (for ${NAME} in an assistant's endpoints.yml) and the assistant's own secrets.
STUDIO_BOT_ENV = env_list("STUDIO_BOT_ENV", [])
for _name in STUDIO_BOT_ENV:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", _name):
        raise ImproperlyConfigured(f"STUDIO_BOT_ENV has {_name!r}, which is not a variable name.")
# The key that encrypts assistants' secrets at rest; by default derived from SECRET_KEY.
STUDIO_SECRETS_KEY = env_secret("STUDIO_SECRETS_KEY") or ""
# Addresses that action, NLG and LLM endpoints may not point at (link-local, cloud metadata).
STUDIO_BLOCKED_NETWORKS = env_list(
    "STUDIO_BLOCKED_NETWORKS",
    [
        "169.254.0.0/16",
        "fe80::/10",
        "100.100.100.200/32",
        "192.0.0.192/32",
        "fd00:ec2::254/128",
    ],
)
for _network in STUDIO_BLOCKED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"STUDIO_BLOCKED_NETWORKS has {_network!r}, which is not a network (CIDR)."
        ) from None
# Local bots publish their events here (Rasa's file event broker); the ingester reads them.
STUDIO_EVENT_SPOOL_DIR = Path(env_str("STUDIO_EVENT_SPOOL_DIR", str(VAR_DIR / "events")))

# Ingestion from Kafka (apps.ingestion), with the variable names Rasa Studio uses. When
# KAFKA_BOOTSTRAP_SERVERS is set, `manage.py ingest` reads KAFKA_TOPIC instead of the spool.
KAFKA_BOOTSTRAP_SERVERS = env_str("KAFKA_BOOTSTRAP_SERVERS", "")
KAFKA_TOPIC = env_str("KAFKA_TOPIC", "rasa-events")
KAFKA_DLQ_TOPIC = env_str("KAFKA_DLQ_TOPIC", "")
KAFKA_GROUP_ID = env_str("KAFKA_GROUP_ID", "studio")
# Static group membership (KIP-345): a stable name per ingester (on Kubernetes, the pod's name
# from a StatefulSet) lets a restarted ingester take its partitions back at once, without the
# group rebalancing, as long as it is back within KAFKA_SESSION_TIMEOUT_MS.
KAFKA_GROUP_INSTANCE_ID = env_str("KAFKA_GROUP_INSTANCE_ID", "")
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 45000, minimum=6000)
KAFKA_SECURITY_PROTOCOL = env_choice(
    "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", ["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]
)
KAFKA_SASL_MECHANISM = env_choice(
    "KAFKA_SASL_MECHANISM",
    "PLAIN",
    ["PLAIN", "GSSAPI", "OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-512"],
)
KAFKA_SASL_USERNAME = env_str("KAFKA_SASL_USERNAME", "")
KAFKA_SASL_PASSWORD = env_secret("KAFKA_SASL_PASSWORD")
KAFKA_SSL_CAFILE = env_str("KAFKA_SSL_CAFILE", "")
KAFKA_SSL_CERTFILE = env_str("KAFKA_SSL_CERTFILE", "")
KAFKA_SSL_KEYFILE = env_str("KAFKA_SSL_KEYFILE", "")
# Conversations whose last event is older than this are deleted (by the orchestrator's
# schedule, apps.ingestion.schedules). Unset: kept for ever.
STUDIO_DELETE_CONVERSATIONS_OLDER_THAN_HOURS = env_int(
    "STUDIO_DELETE_CONVERSATIONS_OLDER_THAN_HOURS", None, minimum=1
)

# The orchestrator: a django-q2 cluster on the database (no broker to run).
Q_CLUSTER = {
    "name": "studio",
    "orm": "default",
    "workers": 1,
    "timeout": 600,
    "retry": 900,
    "max_attempts": 1,
    "catch_up": False,
    "poll": 1,
    "ack_failures": True,
}

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}
