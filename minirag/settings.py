"""MiniRAG settings.

Every value comes from the environment (or `.env`), read with django-environ. `.env.example` lists each
setting with its default and meaning. Sections follow the apps that use them.

Over ~400 lines on purpose: one flat list of environment-read values is easier to audit than several modules.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

# LiteLLM must never fetch its cost map from the network at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# MINIRAG_ENV_FILE picks another file (tests point it at nothing); the process environment always wins.
environ.Env.read_env(os.environ.get("MINIRAG_ENV_FILE", str(BASE_DIR / ".env")), overwrite=False)

# --- Core -----------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

# Values that must never sign anything outside DEBUG: empty, or defaults shipped in docs/examples.
KNOWN_INSECURE_SECRETS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "insecure-dev-secret-key",
    "insecure-dev-jwt-key",
    "django-insecure",
}
_DEV_SECRET_KEY = "insecure-dev-secret-key"  # noqa: S105 - DEBUG only, refused otherwise
_DEV_JWT_KEY = "insecure-dev-jwt-key"

SECRET_KEY = env.str("SECRET_KEY", default="")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")
if not DEBUG:
    for _name, _value in (("SECRET_KEY", SECRET_KEY), ("JWT_SIGNING_KEY", JWT_SIGNING_KEY)):
        if _value in KNOWN_INSECURE_SECRETS or _value.startswith("django-insecure") or len(_value) < 32:
            raise ImproperlyConfigured(
                f"{_name} is missing, too short (<32 chars) or a known default. Set it in the environment "
                f"or .env (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                f"or set DEBUG=true for local development only."
            )
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
JWT_SIGNING_KEY = JWT_SIGNING_KEY or _DEV_JWT_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = False  # bearer tokens, never cookies, cross-origin
# MiniRAG's public address (e.g. https://minirag.example.com) for links it hands out (a publishable key's hosted
# chat page) and as its own origin; empty: the request's own scheme://host (behind a TLS proxy, set it).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# --- Applications (django-tenants: public schema vs one schema per tenant) --------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
# Tenant data lives only in the tenant's own schema.
TENANT_APPS = [
    "bots",
    "sources",
    "chat",
    "usage",
    "tenants.webhooks",  # label "webhooks": its tables and migration history keep that name
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "minirag.middleware.LivenessProbeMiddleware",  # before any host check: probes call the server by address
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "minirag.middleware.RequestBodyLimitMiddleware",
    # Publishable keys' CORS (per key, per opt-in view); answers their preflights before corsheaders sees them.
    "tenants.middleware.PublishableKeyCorsMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "tenants.middleware.TenantFromCredentialMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minirag.urls"
WSGI_APPLICATION = "minirag.wsgi.application"
ASGI_APPLICATION = "minirag.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "minirag" / "templates"],
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

# --- Database ---------------------------------------------------------------------------------------
# DATABASE_URL (environment or .env); else what a running `make run` published in var/runtime.env; else the
# embedded PostgreSQL's socket under var/pgdata (minirag/runtime.py). Never a server nobody configured.
from minirag import runtime as _runtime  # noqa: E402 - needs no Django; read before the URLs below

_PUBLISHED = _runtime.published()
DATABASE_URL = env.str("DATABASE_URL", default="") or _PUBLISHED.get("DATABASE_URL") or _runtime.embedded_database_url()
DATABASES = {"default": env.db_url_config(DATABASE_URL, engine="django_tenants.postgresql_backend")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default="test_minirag")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts and auth ------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = ["tenants.backends.OperatorBackend"]
# Emails are unique per tenant (and among operators), not globally: see tenants.models.User.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
PASSWORD_HASHERS = [
    "tenants.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
API_TOKEN_PREFIX = "mrag_"  # noqa: S105 - a public prefix, not a secret
# last_used_at is written at most this often per token, so reads don't become writes.
API_TOKEN_TOUCH_INTERVAL_SECONDS = env.int("API_TOKEN_TOUCH_INTERVAL_SECONDS", default=60)

JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=60)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=7)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

# --- API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["minirag.api.authentication.TenantCredentialAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["minirag.api.permissions.IsTenantMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "minirag.api.parsers.JSONParser",
        "minirag.api.parsers.MultiPartParser",
        "minirag.api.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "minirag.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MiniRAG API",
    # The overview (info.description) and the tag groups are set by minirag.api.docs.describe_api below.
    "DESCRIPTION": "Multi-tenant, provider-agnostic retrieval-augmented generation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "minirag.api.schema.add_error_responses",
        "minirag.api.docs.describe_api",
    ],
    # Choice sets that share a field name across apps get explicit, stable component names.
    "ENUM_NAME_OVERRIDES": {
        "UserRoleEnum": "tenants.models.Role",
        "MessageRoleEnum": "chat.models.MessageRole",
        "FeedbackEnum": "chat.models.Feedback",
        "SourceTypeEnum": "sources.models.SourceType",
        "SourceStatusEnum": "sources.models.SourceStatus",
        "IngestStageEnum": "sources.models.IngestStage",
        "RefreshScheduleEnum": "sources.models.RefreshSchedule",
        "ServiceStatusEnum": ["ok", "error"],
        "HealthStatusEnum": ["ok", "degraded"],
    },
}
# Largest accepted non-upload request body (JSON), bytes.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# Largest accepted uploaded file, bytes (bigger → 422 "File too large").
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # larger uploads spool to a temp file, not RAM
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# Every list endpoint is bounded.
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=100)

# --- Redis, Celery -----------------------------------------------------------------------------------
# Each from the environment (or .env), else from a running `make run` (var/runtime.env, its embedded Redis).
REDIS_URL = env.str("REDIS_URL", default="") or _PUBLISHED.get("REDIS_URL", "")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or _PUBLISHED.get("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Without a broker, tasks run in the calling process: tests that are not about the queue, and a manage.py
# command while `make run` is stopped. `make run` and docker-compose always have a broker and a worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {
    "sources.tasks.*": {"queue": "ingest"},
    "minirag.webhooks.tasks.*": {"queue": "webhooks"},
}
CELERY_BEAT_SCHEDULE: dict = {}  # filled by the apps' tasks modules (sweeper, refresh)
# Beat leaves a heartbeat in Redis (manage.py doctor reads it) and wakes at least this often, seconds.
CELERY_BEAT_SCHEDULER = "minirag.celery:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = env.int("CELERY_BEAT_MAX_LOOP_INTERVAL", default=30)

# --- Shared cache (rate limits, quota counters, console stats) ----------------------------------------
# Redis (REDIS_URL) so every process counts toward the same limits; a per-process memory cache only when there is
# no Redis. The cache never takes the API down: minirag.counters fails open while it is unreachable.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="minirag"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "minirag"}}

# --- Public service: rate limits, sign-up, quotas ---------------------------------------------------
# Rate limits (minirag/api/throttling.py): "N/period" (10/hour, 30/min, 10/15min); empty or "off" disables one.
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMITS = {
    "signup_ip": env.str("RATE_LIMIT_SIGNUP_PER_IP", default="10/hour"),
    "login_ip": env.str("RATE_LIMIT_LOGIN_PER_IP", default="30/min"),
    "login_email": env.str("RATE_LIMIT_LOGIN_PER_EMAIL", default="10/15min"),
    "chat_tenant": env.str("RATE_LIMIT_CHAT_PER_TENANT", default="1200/min"),
    "chat_bot": env.str("RATE_LIMIT_CHAT_PER_BOT", default="600/min"),
    "writes_token": env.str("RATE_LIMIT_WRITES_PER_TOKEN", default="3000/min"),
    "publishable_key": env.str("RATE_LIMIT_PUBLISHABLE_PER_KEY", default="60/min"),
    "publishable_ip": env.str("RATE_LIMIT_PUBLISHABLE_PER_IP", default="20/min"),
}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "minirag.api.throttling.ChatTenantRateThrottle",
    "minirag.api.throttling.ChatBotRateThrottle",
    "minirag.api.throttling.WriteRateThrottle",
]
# How many proxies in front of the app append to X-Forwarded-For (0: the client is REMOTE_ADDR; never trust the
# header when nothing in front of the app overwrites it, or any client picks its own IP).
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)

# Who may create a tenant with POST /v1/tenants: "open" (anyone), "invite" (an invite code from
# `manage.py invite_code create` or the console), "closed" (operators only: `manage.py bootstrap_tenant`).
SIGNUP_MODE = env.str("SIGNUP_MODE", default="open")
if SIGNUP_MODE not in ("open", "invite", "closed"):
    raise ImproperlyConfigured(f"SIGNUP_MODE must be 'open', 'invite' or 'closed', not {SIGNUP_MODE!r}")
# Slugs no tenant may take (hostnames, routes, schema-like names); RESERVED_SLUGS_EXTRA adds to them.
RESERVED_SLUGS = frozenset(
    {
        *("public", "admin", "administrator", "root", "system", "operator", "staff", "support", "help", "status"),
        *("www", "api", "app", "apps", "static", "media", "assets", "cdn", "mail", "email", "smtp", "imap"),
        *("pop", "ftp", "ns", "ns1", "ns2", "dns", "mx", "dashboard", "console", "docs", "blog", "auth", "login"),
        *("signup", "register", "account", "accounts", "billing", "health", "metrics", "v1", "v2", "widget"),
        "minirag",
        *env.list("RESERVED_SLUGS_EXTRA", default=[]),
    }
)

# Quotas per plan (Tenant.plan; usage/plans.py). null = unlimited. PLANS (JSON) overrides or adds plans, merged
# per plan over these defaults: PLANS='{"free": {"bots": 3}, "team": {"sources": 1000}}'.
QUOTA_NAMES = ("tokens_per_month", "chat_requests_per_day", "sources", "chunks", "upload_bytes", "bots")
_DEFAULT_PLANS = {
    "free": {
        "tokens_per_month": 2_000_000,
        "chat_requests_per_day": 1_000,
        "sources": 200,
        "chunks": 100_000,
        "upload_bytes": 1024**3,
        "bots": 10,
    },
    "pro": {
        "tokens_per_month": 50_000_000,
        "chat_requests_per_day": 20_000,
        "sources": 5_000,
        "chunks": 2_000_000,
        "upload_bytes": 20 * 1024**3,
        "bots": 100,
    },
    "unlimited": dict.fromkeys(QUOTA_NAMES),
}
PLANS = {name: dict(quotas) for name, quotas in _DEFAULT_PLANS.items()}
for _plan, _quotas in env.json("PLANS", default={}).items():
    if not isinstance(_quotas, dict) or set(_quotas) - set(QUOTA_NAMES):
        raise ImproperlyConfigured(f"PLANS[{_plan!r}] must be an object with keys among {', '.join(QUOTA_NAMES)}")
    if any(value is not None and (not isinstance(value, int) or value < 0) for value in _quotas.values()):
        raise ImproperlyConfigured(f"PLANS[{_plan!r}]: every quota is a non-negative integer or null (unlimited)")
    PLANS[_plan] = {**PLANS.get(_plan, dict.fromkeys(QUOTA_NAMES)), **_quotas}
# Plan used for a tenant whose plan is not in PLANS (e.g. renamed): the most restrictive choice is "free".
QUOTA_FALLBACK_PLAN = env.str("QUOTA_FALLBACK_PLAN", default="free")
if QUOTA_FALLBACK_PLAN not in PLANS:
    raise ImproperlyConfigured(f"QUOTA_FALLBACK_PLAN {QUOTA_FALLBACK_PLAN!r} is not a plan in PLANS")
# usage.threshold webhooks are sent when a quota's use reaches these percentages (once per period each).
QUOTA_THRESHOLDS = (80, 100)

# --- Qdrant, LLM providers ---------------------------------------------------------------------------
QDRANT_URL = env.str("QDRANT_URL", default="")
QDRANT_API_KEY = env.str("QDRANT_API_KEY", default="")
# qdrant-client's in-memory mode, the test double of the Qdrant server (tests only).
QDRANT_IN_MEMORY = env.bool("QDRANT_IN_MEMORY", default=False)
# The knowledge index (sources.index): "postgres" keeps chunks, BM25 postings and pgvector embeddings in each
# tenant's schema; "qdrant" keeps vectors in the Qdrant server at QDRANT_URL (the scale path).
KNOWLEDGE_INDEX = env.str("KNOWLEDGE_INDEX", default="qdrant" if QDRANT_URL else "postgres")
if KNOWLEDGE_INDEX not in ("postgres", "qdrant"):
    raise ImproperlyConfigured(f"KNOWLEDGE_INDEX must be 'postgres' or 'qdrant', not {KNOWLEDGE_INDEX!r}")
if KNOWLEDGE_INDEX == "qdrant" and not QDRANT_URL and not QDRANT_IN_MEMORY:
    raise ImproperlyConfigured("KNOWLEDGE_INDEX=qdrant needs QDRANT_URL (the Qdrant server)")
DEFAULT_LLM_MODEL = env.str("DEFAULT_LLM_MODEL", default="gpt-4o-mini")
DEFAULT_EMBEDDING_MODEL = env.str("DEFAULT_EMBEDDING_MODEL", default="")
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=60.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)

# --- Knowledge: chunking, ingestion, retrieval (sources/) ---------------------------------------------
CHUNK_SIZE_TOKENS = env.int("CHUNK_SIZE_TOKENS", default=512)
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=64)
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=128)
EMBEDDING_MAX_RETRIES = env.int("EMBEDDING_MAX_RETRIES", default=6)
EMBEDDING_TIMEOUT_SECONDS = env.float("EMBEDDING_TIMEOUT_SECONDS", default=60.0)
URL_FETCH_TIMEOUT_SECONDS = env.float("URL_FETCH_TIMEOUT_SECONDS", default=30.0)
URL_FETCH_MAX_BYTES = env.int("URL_FETCH_MAX_BYTES", default=20 * 1024 * 1024)
URL_FETCH_MAX_REDIRECTS = env.int("URL_FETCH_MAX_REDIRECTS", default=5)
MAX_EXTRACTED_CHARS = env.int("MAX_EXTRACTED_CHARS", default=60_000_000)
# Zip-based files (DOCX): the most their parts may unpack to, bytes, and the highest unpacked-to-packed ratio of
# a part over 1 MiB (zip bombs). Checked on the declared sizes, then again while unpacking.
MAX_ARCHIVE_UNCOMPRESSED_BYTES = env.int("MAX_ARCHIVE_UNCOMPRESSED_BYTES", default=100 * 1024 * 1024)
MAX_ARCHIVE_RATIO = env.float("MAX_ARCHIVE_RATIO", default=100.0)
# PDF, DOCX and HTML are parsed in a child process stopped after this many seconds or when it allocates more
# than this many MB; 0 turns a limit off (both 0: parsed in the worker itself).
EXTRACTION_TIMEOUT_SECONDS = env.float("EXTRACTION_TIMEOUT_SECONDS", default=120.0)
EXTRACTION_MAX_MEMORY_MB = env.int("EXTRACTION_MAX_MEMORY_MB", default=1024)
INGEST_SOFT_TIME_LIMIT_SECONDS = env.int("INGEST_SOFT_TIME_LIMIT_SECONDS", default=1800)
INGEST_HARD_TIME_LIMIT_SECONDS = env.int("INGEST_HARD_TIME_LIMIT_SECONDS", default=1900)
# A source in "processing" longer than this is failed by the sweeper so it can be re-ingested.
INGEST_STUCK_AFTER_SECONDS = env.int("INGEST_STUCK_AFTER_SECONDS", default=2400)
# A running ingestion renews its lease every INGEST_HEARTBEAT_SECONDS; once it is older than
# INGEST_LEASE_SECONDS the worker is considered dead and the sweeper (every INGEST_SWEEP_INTERVAL_SECONDS)
# fails the source and removes its partial rows.
INGEST_HEARTBEAT_SECONDS = env.float("INGEST_HEARTBEAT_SECONDS", default=10.0)
INGEST_LEASE_SECONDS = env.int("INGEST_LEASE_SECONDS", default=60)
INGEST_SWEEP_INTERVAL_SECONDS = env.int("INGEST_SWEEP_INTERVAL_SECONDS", default=30)
RETRIEVAL_TOP_K = env.int("RETRIEVAL_TOP_K", default=5)
# A bot's reranker (BotProfile.rerank_model) gets one attempt this long; past it, the fused order stands.
RERANK_TIMEOUT_SECONDS = env.float("RERANK_TIMEOUT_SECONDS", default=10.0)
MAX_BATCH_CHILDREN = env.int("MAX_BATCH_CHILDREN", default=500)
# Site crawls (a URL source with `config.crawl`; sources/crawl.py): at most CRAWL_MAX_PAGES pages (a source may
# ask fewer), CRAWL_MAX_DEPTH link hops, CRAWL_MAX_TOTAL_BYTES downloaded and CRAWL_TIME_LIMIT_SECONDS per crawl;
# CRAWL_DELAY_SECONDS between two requests to one host (a robots.txt Crawl-delay or the source's own
# `delay_seconds` may only slow it down; below 0.2 s the code uses 0.2 s whatever this says).
CRAWL_MAX_PAGES = env.int("CRAWL_MAX_PAGES", default=1000)
CRAWL_MAX_DEPTH = env.int("CRAWL_MAX_DEPTH", default=10)
CRAWL_MAX_TOTAL_BYTES = env.int("CRAWL_MAX_TOTAL_BYTES", default=200 * 1024 * 1024)
CRAWL_DELAY_SECONDS = env.float("CRAWL_DELAY_SECONDS", default=1.0)
CRAWL_TIME_LIMIT_SECONDS = env.int("CRAWL_TIME_LIMIT_SECONDS", default=1800)

# --- Chat (chat/) ------------------------------------------------------------------------------------
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=32000)
# Context window assumed for models LiteLLM does not know.
CHAT_DEFAULT_CONTEXT_TOKENS = env.int("CHAT_DEFAULT_CONTEXT_TOKENS", default=8192)
CHAT_STREAM_KEEPALIVE_SECONDS = env.float("CHAT_STREAM_KEEPALIVE_SECONDS", default=10.0)
CHAT_EXPORT_MAX_CHATS = env.int("CHAT_EXPORT_MAX_CHATS", default=1000)

# --- Webhooks and scheduled refresh ------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Without a broker (eager tasks), deliver on a background thread instead of inside the triggering request.
WEBHOOK_EAGER_IN_BACKGROUND = env.bool("WEBHOOK_EAGER_IN_BACKGROUND", default=True)
REFRESH_CHECK_INTERVAL_SECONDS = env.int("REFRESH_CHECK_INTERVAL_SECONDS", default=900)

# --- Secrets at rest ---------------------------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt (MultiFernet rotation).
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])
if not ENCRYPTION_KEYS and env.str("ENCRYPTION_KEY", default=""):
    ENCRYPTION_KEYS = [env.str("ENCRYPTION_KEY")]
if not ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "ENCRYPTION_KEYS is not set. Generate a key with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())' and put it in the environment or .env."
    )
if not ENCRYPTION_KEYS:
    # DEBUG only: a fixed development key, never valid outside DEBUG.
    ENCRYPTION_KEYS = ["ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk="]

# --- Outbound network --------------------------------------------------------------------------------
# Private and loopback addresses are refused for URL sources, webhooks and provider endpoints unless allowed.
MINIRAG_ALLOW_PRIVATE_NETWORK = env.bool("MINIRAG_ALLOW_PRIVATE_NETWORK", default=False)

# --- Health checks -----------------------------------------------------------------------------------
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=3.0)

# --- Files, static, i18n -----------------------------------------------------------------------------
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging -----------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # LiteLLM logs request bodies (with keys) at debug level: keep it quiet.
        "LiteLLM": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
