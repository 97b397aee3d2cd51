"""The checks of `manage.py doctor` (tenants/management/commands/doctor.py): each returns its findings, a level
(OK, WARN, FAIL) with what is wrong and how to fix it. Kept out of the command so each check stays short and
`healthcheck` and the tests can import them without the command."""

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

from minirag import runtime
from minirag.celery import BEAT_HEARTBEAT_TTL, app, read_beat_heartbeat
from minirag.encryption import validate_keys
from minirag.health import check_qdrant, provider_key_problem
from minirag.startup import public_schema_pending, schemas_missing_migrations
from minirag.tenancy import tenants_all

OK, WARN, FAIL = "OK", "WARN", "FAIL"
WORKER_PING_SECONDS = 1.0
_DEV_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk="


@dataclass
class Finding:
    area: str
    level: str
    message: str
    fix: str = ""


def _redact(url: str) -> str:
    """scheme://host:port only: never a user name or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{host}{port}"


def check_settings() -> list[Finding]:
    found = _secret_findings() + _encryption_key_findings() + _exposure_findings()
    return found or [Finding("settings", OK, "secrets set, encryption keys valid")]


def _secret_findings() -> list[Finding]:
    found: list[Finding] = []
    if settings.DEBUG:
        found.append(
            Finding(
                "settings",
                WARN,
                "DEBUG is on: development secrets are allowed and errors are verbose.",
                "Set DEBUG=false outside local development.",
            )
        )
    for name, dev_value in (("SECRET_KEY", "insecure-dev-secret-key"), ("JWT_SIGNING_KEY", "insecure-dev-jwt-key")):
        value = getattr(settings, name)
        if value == dev_value or value in settings.KNOWN_INSECURE_SECRETS or len(value) < 32:
            found.append(
                Finding(
                    "settings",
                    WARN if settings.DEBUG else FAIL,
                    f"{name} is a development default or too short.",
                    f"Set {name} in .env: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                )
            )
    return found


def _encryption_key_findings() -> list[Finding]:
    try:
        validate_keys()
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return [
            Finding(
                "settings",
                FAIL,
                f"ENCRYPTION_KEYS is invalid: {error}",
                "Generate a key: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())' and put it first in ENCRYPTION_KEYS.",
            )
        ]
    if _DEV_ENCRYPTION_KEY in settings.ENCRYPTION_KEYS:
        return [
            Finding(
                "settings",
                WARN if settings.DEBUG else FAIL,
                "ENCRYPTION_KEYS holds the built-in development key.",
                "Generate a Fernet key and set ENCRYPTION_KEYS to it (then run rotate_credentials).",
            )
        ]
    return []


def _exposure_findings() -> list[Finding]:
    found: list[Finding] = []
    if not settings.DEBUG and "*" in settings.ALLOWED_HOSTS:
        found.append(
            Finding(
                "settings",
                WARN,
                "ALLOWED_HOSTS accepts any host.",
                "Set ALLOWED_HOSTS to the host names the API is served under.",
            )
        )
    if settings.MINIRAG_ALLOW_PRIVATE_NETWORK:
        found.append(
            Finding(
                "settings",
                WARN,
                "MINIRAG_ALLOW_PRIVATE_NETWORK is on: URL sources and webhooks may reach internal hosts.",
                "Set MINIRAG_ALLOW_PRIVATE_NETWORK=false unless every tenant is trusted.",
            )
        )
    return found


def check_runtime() -> list[Finding]:
    """Where this command's database and broker come from, so its answers can be compared with the server's."""
    running = runtime.published()
    if running:
        return [
            Finding(
                "runtime",
                OK,
                f"make run is up (pid {running['MINIRAG_LAUNCHER_PID']}, port {running.get('PORT', '?')}): "
                "checking the services it runs (var/runtime.env)",
            )
        ]
    if os.environ.get(runtime.ATTACHED_MARKER):
        return [
            Finding(
                "runtime",
                WARN,
                "make run is not running: this command started the embedded PostgreSQL for itself",
                "Start `make run` for the web server, the worker and beat.",
            )
        ]
    return []


def check_database() -> list[Finding]:
    database = settings.DATABASES["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('server_version'), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
                "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')"
            )
            version, vector_installed, vector_available = cursor.fetchone()
        shared_pending = public_schema_pending()
    except Exception as error:  # noqa: BLE001
        return [_database_unreachable(database, error)]
    found = [Finding("database", OK, f"PostgreSQL {version} at {_database_host(database)}")]
    found.append(_vector_finding(vector_installed, vector_available))
    return found + _migration_findings(shared_pending)


def _database_unreachable(database: dict, error: Exception) -> Finding:
    where = f"database {database.get('NAME')!r} on {_database_host(database)}"
    if "does not exist" in str(error):
        return Finding(
            "database",
            FAIL,
            f"{where} does not exist",
            f"Create it (createdb {database.get('NAME')}) or run `make run`, which creates it.",
        )
    return Finding(
        "database",
        FAIL,
        f"cannot reach {where} ({type(error).__name__})",
        "Start `make run` (it runs the embedded PostgreSQL when DATABASE_URL is unset), or check "
        "DATABASE_URL and that its server is running.",
    )


def _vector_finding(installed: str | None, available: bool) -> Finding:
    if installed:
        return Finding("database", OK, f"pgvector {installed} installed (`vector` extension)")
    if available:
        return Finding(
            "database",
            WARN,
            "pgvector is available but not installed in this database",
            "Run: python manage.py migrate_schemas --shared (a migration creates the extension)",
        )
    return Finding(
        "database",
        WARN,
        "this server has no pgvector (`vector` extension): dense retrieval is unavailable, sparse (BM25) "
        "retrieval works",
        "Install pgvector on the server, or unset DATABASE_URL to use the embedded PostgreSQL (ships it).",
    )


def _migration_findings(shared_pending: list) -> list[Finding]:
    if shared_pending:
        return [
            Finding(
                "database",
                FAIL,
                f"{len(shared_pending)} migration(s) not applied to the public schema (e.g. {shared_pending[0]})",
                "Run: python manage.py migrate_schemas --shared (make run does it at start)",
            )
        ]
    total = tenants_all().count()
    stale = schemas_missing_migrations()
    if stale:
        return [
            Finding(
                "database",
                FAIL,
                f"{len(stale)} of {total} tenant schema(s) miss migrations (e.g. {stale[0]})",
                "Run: python -m minirag.startup --migrate-only (or restart make run), or "
                "python manage.py migrate_schemas --tenant",
            )
        ]
    return [Finding("database", OK, f"{total} tenant schema(s) up to date")]


def _database_host(database: dict) -> str:
    host = database.get("HOST") or database.get("OPTIONS", {}).get("host") or ""
    if host.startswith("/"):
        return f"the socket in {host}"
    return f"{host}:{database.get('PORT') or 5432}" if host else "the local socket"


def check_broker() -> list[Finding]:
    url = settings.CELERY_BROKER_URL
    if not url:
        return [
            Finding(
                "broker",
                WARN,
                "no broker: tasks (ingestion, webhooks, scheduled refresh) run in the calling process and beat "
                "does not run.",
                "Set CELERY_BROKER_URL (or REDIS_URL) and run a worker and beat, or start `make run` (it runs "
                "an embedded Redis, a worker and beat).",
            )
        ]
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as error:  # noqa: BLE001
        return [
            Finding(
                "broker",
                FAIL,
                f"cannot reach the broker at {_redact(url)} ({type(error).__name__})",
                "Start Redis (or `make run`), or fix CELERY_BROKER_URL (host, port, password).",
            )
        ]
    found = [Finding("broker", OK, f"broker reachable at {_redact(url)}")]
    if settings.CELERY_TASK_ALWAYS_EAGER:
        found.append(
            Finding(
                "broker",
                WARN,
                "CELERY_TASK_ALWAYS_EAGER is on although a broker is configured.",
                "Unset CELERY_TASK_ALWAYS_EAGER so tasks go to the worker.",
            )
        )
    return found + check_worker(app) + check_beat()


WORKER_QUEUES = {"default", "ingest", "webhooks"}


def check_worker(app) -> list[Finding]:
    try:
        replies = app.control.inspect(timeout=WORKER_PING_SECONDS).active_queues() or {}
    except Exception as error:  # noqa: BLE001
        return [Finding("worker", FAIL, f"could not ask the workers ({type(error).__name__}: {error})")]
    if not replies:
        return [
            Finding(
                "worker",
                FAIL,
                f"no Celery worker answered within {WORKER_PING_SECONDS:g}s: uploads and ingestions stay queued",
                "Start `make run`, or: celery -A minirag worker -Q default,ingest,webhooks",
            )
        ]
    consumed = {queue["name"] for queues in replies.values() for queue in queues or []}
    names = ", ".join(sorted(replies))
    found = [Finding("worker", OK, f"{len(replies)} worker(s) answering: {names}")]
    if WORKER_QUEUES - consumed:
        missing = ", ".join(sorted(WORKER_QUEUES - consumed))
        found.append(
            Finding(
                "worker",
                FAIL,
                f"no worker consumes the queue(s) {missing}",
                "Start a worker with -Q default,ingest,webhooks",
            )
        )
    return found


def check_beat() -> list[Finding]:
    try:
        beat = read_beat_heartbeat()
    except Exception as error:  # noqa: BLE001
        return [Finding("beat", WARN, f"could not read beat's heartbeat ({type(error).__name__})")]
    if beat is None:
        if not (app.conf.broker_url or "").startswith(("redis://", "rediss://", "unix://")):
            return [Finding("beat", WARN, "cannot tell whether beat runs (its heartbeat needs a Redis broker)")]
        return [
            Finding(
                "beat",
                FAIL,
                f"no heartbeat from celery beat in the last {BEAT_HEARTBEAT_TTL}s: the stuck-ingestion sweeper, "
                "scheduled refresh and log pruning do not run",
                "Start `make run`, or: celery -A minirag beat",
            )
        ]
    return [
        Finding(
            "beat",
            OK,
            f"celery beat alive (pid {beat['pid']} on {beat['host']}, last tick {beat['age']:.0f}s ago; "
            f"{len(beat.get('entries', []))} scheduled entries)",
        )
    ]


def check_index() -> list[Finding]:
    if settings.KNOWLEDGE_INDEX == "postgres":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
                dense = cursor.fetchone() is not None
        except Exception:  # noqa: BLE001 - the database check already says why
            dense = False
        legs = "BM25 postings, pgvector embeddings" if dense else "BM25 postings only: no pgvector, no dense retrieval"
        return [Finding("index", OK, f"knowledge index: PostgreSQL (each tenant's schema: {legs})")]
    result = check_qdrant()
    where = _redact(settings.QDRANT_URL) if settings.QDRANT_URL else "in memory (tests)"
    if result["status"] != "ok":
        return [
            Finding(
                "index",
                FAIL,
                f"knowledge index: Qdrant at {where}: {result.get('detail', 'error')}",
                "Start the Qdrant server or fix QDRANT_URL / QDRANT_API_KEY (or set KNOWLEDGE_INDEX=postgres).",
            )
        ]
    version = f" {result['version']}" if result.get("version") else ""
    return [Finding("index", OK, f"knowledge index: Qdrant{version} at {where} answers")]


def check_provider_keys() -> list[Finding]:
    found: list[Finding] = []
    for name in ("DEFAULT_LLM_MODEL", "DEFAULT_EMBEDDING_MODEL"):
        model = getattr(settings, name)
        if not model:
            if name == "DEFAULT_EMBEDDING_MODEL":
                found.append(
                    Finding(
                        "providers",
                        WARN,
                        "DEFAULT_EMBEDDING_MODEL is empty: bots without their own "
                        "embedding model use lexical retrieval only.",
                        "Set DEFAULT_EMBEDDING_MODEL, e.g. text-embedding-3-small.",
                    )
                )
            continue
        problem = provider_key_problem(model)
        if problem:
            found.append(
                Finding(
                    "providers",
                    WARN,
                    f"{name}: {problem}. Bots with their own API key still work.",
                    "Export the key (e.g. OPENAI_API_KEY=...) in .env or the environment.",
                )
            )
        else:
            found.append(Finding("providers", OK, f"{name}={model}: provider key present"))
    return found


CHECKS = (check_runtime, check_settings, check_database, check_broker, check_index, check_provider_keys)
