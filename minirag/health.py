"""Dependency checks for /v1/system/health. Never returns a secret or a connection string."""

import platform
import sys
import time
from collections.abc import Callable

import httpx
import redis
from django.conf import settings
from django.db import connection


def _timed(check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        result = check()
        status = {"status": "ok", **result}
    except Exception as error:  # noqa: BLE001 - any failure of a dependency is reported, never raised
        status = {"status": "error", "detail": _describe(error)}
    status["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return status


def _describe(error: Exception) -> str:
    # The class name only: driver messages can carry hosts, users or passwords.
    return f"unreachable ({type(error).__name__})"


def check_postgres() -> dict:
    def check():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            version = cursor.fetchone()[0]
        return {"version": version}

    return _timed(check)


def check_redis() -> dict:
    url = settings.CELERY_BROKER_URL or settings.REDIS_URL
    if not url:
        return {"status": "ok", "detail": "not configured; tasks run in the calling process", "latency_ms": 0.0}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return {"status": "ok", "detail": "broker is not Redis", "latency_ms": 0.0}

    def check():
        timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
            version = client.info("server").get("redis_version")
        finally:
            client.close()
        return {"version": version}

    return _timed(check)


def check_qdrant() -> dict:
    if settings.KNOWLEDGE_INDEX != "qdrant":
        return {"status": "ok", "detail": "not used: the knowledge index is in PostgreSQL", "latency_ms": 0.0}
    if not settings.QDRANT_URL:
        return {"status": "ok", "detail": "in-memory test double", "latency_ms": 0.0}

    def check_server():
        headers = {"api-key": settings.QDRANT_API_KEY} if settings.QDRANT_API_KEY else {}
        timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
        with httpx.Client(timeout=timeout, headers=headers) as client:
            client.get(settings.QDRANT_URL.rstrip("/") + "/healthz").raise_for_status()
            root = client.get(settings.QDRANT_URL.rstrip("/") + "/")
            version = root.json().get("version") if root.status_code == 200 else None
        return {"version": version}

    return _timed(check_server)


def system_health() -> dict:
    services = {"postgres": check_postgres(), "qdrant": check_qdrant(), "redis": check_redis()}
    overall = "ok" if all(item["status"] == "ok" for item in services.values()) else "degraded"
    return {"status": overall, **services}


# --- Detailed health (auth; the caller's tenant only) -------------------------------------------------------

_STARTED_AT = time.monotonic()


# The caller's own counts (`db_stats`, `bot_sources`), filled by the apps from their AppConfig.ready(): the
# foundation imports no domain app. Each counter reads the current tenant schema and returns some of those keys.
TenantCounter = Callable[[], dict]
_TENANT_COUNTERS: list[TenantCounter] = []


def register_tenant_counts(counter: TenantCounter) -> None:
    if counter not in _TENANT_COUNTERS:
        _TENANT_COUNTERS.append(counter)


def tenant_db_stats() -> dict:
    """Every registered counter's numbers for the current tenant schema: `db_stats` merged, lists concatenated."""
    result: dict = {"db_stats": {}, "bot_sources": []}
    for counter in _TENANT_COUNTERS:
        for key, value in counter().items():
            if isinstance(value, dict):
                result.setdefault(key, {}).update(value)
            else:
                result.setdefault(key, []).extend(value)
    return result


def detailed_health() -> dict:
    """Dependency status plus the caller's own counts. Deliberately absent (unlike the reference): global
    Qdrant and Redis statistics (they describe every tenant) and any URL or connection string."""
    return {
        **system_health(),
        "uptime_seconds": round(time.monotonic() - _STARTED_AT, 1),
        "python_version": sys.version.split()[0],
        "platform": platform.system(),
        **tenant_db_stats(),
        "config": {
            "encryption_configured": bool(settings.ENCRYPTION_KEYS),
            "jwt_configured": bool(settings.JWT_SIGNING_KEY),
            "jwt_expire_minutes": settings.JWT_ACCESS_MINUTES,
            "default_llm_model": settings.DEFAULT_LLM_MODEL,
            "default_embedding_model": settings.DEFAULT_EMBEDDING_MODEL or None,
            "cors_origins": list(settings.CORS_ALLOWED_ORIGINS),
            "tasks_in_process": bool(settings.CELERY_TASK_ALWAYS_EAGER),
        },
    }


# --- Provider keys (manage.py doctor) ---------------------------------------------------------------------


def provider_key_problem(model: str) -> str | None:
    """Which environment variables LiteLLM needs for `model` and does not find, or None when all are there.

    Only names are reported, never values.
    """
    if not model:
        return None
    import litellm  # here: importing LiteLLM takes seconds, and only this check of `manage.py doctor` needs it

    try:
        result = litellm.validate_environment(model=model)
    except Exception as error:  # noqa: BLE001 - an unknown model is a finding, not a crash
        return f"LiteLLM cannot tell which provider serves {model!r} ({type(error).__name__})"
    missing = result.get("missing_keys") or []
    if result.get("keys_in_environment") or not missing:
        return None
    return f"{model!r} needs {', '.join(missing)} in the environment"
