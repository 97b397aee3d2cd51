"""`manage.py doctor`: check settings, database, broker, Qdrant and provider keys; say what is wrong and how
to fix it. Exit status 1 when something is broken (a FAIL), 0 otherwise (warnings included)."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

OK, WARN, FAIL = "OK", "WARN", "FAIL"
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
    from minirag.encryption import validate_keys

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
    try:
        validate_keys()
    except Exception as error:  # noqa: BLE001 - reported, not raised
        found.append(
            Finding(
                "settings",
                FAIL,
                f"ENCRYPTION_KEYS is invalid: {error}",
                "Generate a key: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())' and put it first in ENCRYPTION_KEYS.",
            )
        )
    else:
        if _DEV_ENCRYPTION_KEY in settings.ENCRYPTION_KEYS:
            found.append(
                Finding(
                    "settings",
                    WARN if settings.DEBUG else FAIL,
                    "ENCRYPTION_KEYS holds the built-in development key.",
                    "Generate a Fernet key and set ENCRYPTION_KEYS to it (then run rotate_credentials).",
                )
            )
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
    if not found:
        found.append(Finding("settings", OK, "secrets set, encryption keys valid"))
    return found


def check_database() -> list[Finding]:
    from django.db.migrations.executor import MigrationExecutor

    from tenants.models import Tenant

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            version = cursor.fetchone()[0]
        connection.set_schema_to_public()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:  # noqa: BLE001
        database = settings.DATABASES["default"]
        where = f"database {database.get('NAME')!r} on {database.get('HOST') or 'the local socket'}"
        if "does not exist" in str(error):
            return [
                Finding(
                    "database",
                    FAIL,
                    f"{where} does not exist",
                    f"Create it (createdb {database.get('NAME')}) or run `make run`, which creates it.",
                )
            ]
        return [
            Finding(
                "database",
                FAIL,
                f"cannot reach {where} ({type(error).__name__})",
                "Check DATABASE_URL and that PostgreSQL is running (make run starts an embedded one "
                "when DATABASE_URL is unset).",
            )
        ]
    found = [Finding("database", OK, f"PostgreSQL {version}")]
    shared_pending = [f"{m.app_label}.{m.name}" for m, _ in pending]
    if shared_pending:
        found.append(
            Finding(
                "database",
                FAIL,
                f"{len(shared_pending)} migration(s) not applied to the public schema (e.g. {shared_pending[0]})",
                "Run: python manage.py migrate_schemas --shared",
            )
        )
    known = {(app, name) for app, name in executor.loader.graph.nodes}
    stale = []
    tenants = list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
    for schema in tenants:
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # schema names come from the DB
            applied = set(cursor.fetchall())
        from tenants.schema import tenant_app_labels

        labels = set(tenant_app_labels())
        if {key for key in known if key[0] in labels} - applied:
            stale.append(schema)
    if stale:
        found.append(
            Finding(
                "database",
                FAIL,
                f"{len(stale)} of {len(tenants)} tenant schema(s) miss migrations (e.g. {stale[0]})",
                "Run: python manage.py migrate_schemas --tenant",
            )
        )
    else:
        found.append(Finding("database", OK, f"{len(tenants)} tenant schema(s) up to date"))
    return found


def check_broker() -> list[Finding]:
    url = settings.CELERY_BROKER_URL
    if not url:
        return [
            Finding(
                "broker",
                WARN,
                "no broker: tasks (ingestion, webhooks, scheduled refresh) run inside the "
                "web process and beat does not run.",
                "Set CELERY_BROKER_URL (or REDIS_URL), e.g. redis://localhost:6379/0, and run a worker and beat.",
            )
        ]
    from minirag.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001
        return [
            Finding(
                "broker",
                FAIL,
                f"cannot reach the broker at {_redact(url)} ({type(error).__name__})",
                "Start Redis, or fix CELERY_BROKER_URL (host, port, password).",
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
    return found


def check_qdrant() -> list[Finding]:
    from minirag.health import check_qdrant as probe

    result = probe()
    where = _redact(settings.QDRANT_URL) if settings.QDRANT_URL else f"embedded at {settings.QDRANT_PATH}"
    if result["status"] != "ok":
        return [
            Finding(
                "qdrant",
                FAIL,
                f"Qdrant {where}: {result.get('detail', 'error')}",
                "Start Qdrant or fix QDRANT_URL / QDRANT_API_KEY; unset QDRANT_URL to use the embedded "
                "local mode (single process only).",
            )
        ]
    found = [Finding("qdrant", OK, f"Qdrant {where} answers")]
    if not settings.QDRANT_URL:
        found.append(
            Finding(
                "qdrant",
                WARN,
                "embedded Qdrant admits one process, so no separate worker can index.",
                "For production set QDRANT_URL to a Qdrant server.",
            )
        )
    return found


def check_provider_keys() -> list[Finding]:
    from minirag.health import provider_key_problem

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


CHECKS = (check_settings, check_database, check_broker, check_qdrant, check_provider_keys)


class Command(BaseCommand):
    help = "Check settings, database, broker, Qdrant and provider keys; print what is wrong and how to fix it."

    def handle(self, *args, **options):
        findings: list[Finding] = []
        for check in CHECKS:
            findings.extend(check())
        styles = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
        for finding in findings:
            self.stdout.write(f"{styles[finding.level](f'[{finding.level:4}]')} {finding.area:9} {finding.message}")
            if finding.fix and finding.level != OK:
                self.stdout.write(f"{'':17}fix: {finding.fix}")
        failures = sum(1 for finding in findings if finding.level == FAIL)
        warnings = sum(1 for finding in findings if finding.level == WARN)
        self.stdout.write(f"\n{failures} problem(s), {warnings} warning(s).")
        if failures:
            raise SystemExit(1)
