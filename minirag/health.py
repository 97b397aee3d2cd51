"""Dependency checks for /v1/system/health. Never returns a secret or a connection string."""

import time
from collections.abc import Callable

import httpx
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
        import redis

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


def tenant_db_stats() -> dict:
    """Counts for the current tenant schema only, in a fixed number of queries (no per-bot loop)."""
    from django.db.models import Count, Q, Sum

    from bots.models import BotProfile
    from chat.models import Chat, Message
    from sources.models import Chunk, Source
    from usage.models import UsageEvent

    by_status = dict(Source.objects.filter(is_active=True).values_list("status").annotate(n=Count("id")).order_by())
    usage = UsageEvent.objects.aggregate(
        events=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")
    )
    bots = (
        BotProfile.objects.annotate(
            source_count=Count("sources", filter=Q(sources__is_active=True)),
            ready_sources=Count("sources", filter=Q(sources__is_active=True, sources__status="ready")),
            total_chunks=Sum("sources__chunk_count", filter=Q(sources__is_active=True)),
        )
        .order_by("-created_at", "id")
        .values("id", "name", "model", "is_active", "source_count", "ready_sources", "total_chunks")
    )
    db_stats = {
        "sources_by_status": by_status,
        "total_chunks": Chunk.objects.filter(source__is_active=True).count(),
        "total_messages": Message.objects.count(),
        "total_chats": Chat.objects.count(),
        "total_usage_events": usage["events"] or 0,
        "total_prompt_tokens": usage["prompt"] or 0,
        "total_completion_tokens": usage["completion"] or 0,
    }
    bot_sources = [
        {
            "bot_profile_id": str(bot["id"]),
            "bot_name": bot["name"],
            "model": bot["model"],
            "is_active": bot["is_active"],
            "source_count": bot["source_count"],
            "ready_sources": bot["ready_sources"],
            "total_chunks": bot["total_chunks"] or 0,
        }
        for bot in bots
    ]
    return {"db_stats": db_stats, "bot_sources": bot_sources}


def detailed_health() -> dict:
    """Dependency status plus the caller's own counts. Deliberately absent (unlike the reference): global
    Qdrant and Redis statistics (they describe every tenant) and any URL or connection string."""
    import platform
    import sys

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
    import litellm

    try:
        result = litellm.validate_environment(model=model)
    except Exception as error:  # noqa: BLE001 - an unknown model is a finding, not a crash
        return f"LiteLLM cannot tell which provider serves {model!r} ({type(error).__name__})"
    missing = result.get("missing_keys") or []
    if result.get("keys_in_environment") or not missing:
        return None
    return f"{model!r} needs {', '.join(missing)} in the environment"
