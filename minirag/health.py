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
        return {"status": "ok", "detail": "not configured; tasks run in-process", "latency_ms": 0.0}
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
    if not settings.QDRANT_URL:
        def check_embedded():
            from minirag.integrations import vectorstore

            vectorstore.get_client().get_collections()
            return {"detail": "embedded local mode"}

        return _timed(check_embedded)

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
