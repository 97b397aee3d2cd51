"""A real Celery worker on a real Redis broker, for the few tests that are about the queue itself.

The worker runs in a thread of the test process (solo pool), so it shares the embedded Qdrant and the test
database. Tasks matching `route` go to a queue of the test's own, removed afterwards.
"""

import os
import uuid
from contextlib import contextmanager

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is unreachable at {REDIS_URL} ({type(error).__name__}); set TEST_REDIS_URL")
    return REDIS_URL


def reset_pools(app) -> None:
    """Forget broker connections and routing built from an earlier configuration (both are cached),
    including kombu's global producer pools, remote control's pool and a stopped worker's event loop, which
    would otherwise never fire a later worker's ETA timers."""
    from kombu import pools
    from kombu.asynchronous import set_event_loop

    pools.reset()
    set_event_loop(None)
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    # Remote control (ping, inspect) caches the producer pool it first used: forget it with the rest.
    app.__dict__.pop("control", None)
    if "amqp" in app.__dict__:
        amqp = app.__dict__["amqp"]
        amqp._producer_pool = None
        amqp.flush_routes()
        amqp.__dict__.pop("router", None)


@contextmanager
def running_worker(route: str, *, queue_prefix: str):
    """Point the app at Redis, route `route` tasks to a fresh queue, and run a worker thread on it."""
    import redis
    from celery.contrib.testing.worker import start_worker

    from minirag.celery import app

    broker = require_redis()
    queue = f"{queue_prefix}-{uuid.uuid4().hex[:8]}"
    # The app reads Django settings with the CELERY_ namespace, so overrides use the namespaced keys.
    keys = ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_ROUTES")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(
        CELERY_BROKER_URL=broker, CELERY_TASK_ALWAYS_EAGER=False, CELERY_TASK_ROUTES={route: {"queue": queue}}
    )
    reset_pools(app)
    try:
        with start_worker(
            app, pool="solo", concurrency=1, queues=[queue], perform_ping_check=False, loglevel="WARNING",
            shutdown_timeout=10,
        ):  # fmt: skip
            yield app
    finally:
        app.conf.update(saved)
        reset_pools(app)
        redis.Redis.from_url(broker).delete(queue)


def database_url_for_subprocess() -> str:
    """A URL for the test database (the one this test session uses), for processes started by a test."""
    from urllib.parse import quote, urlencode

    from django.db import connection

    database = connection.settings_dict
    user = quote(database.get("USER") or "", safe="")
    if database.get("PASSWORD"):
        user += ":" + quote(database["PASSWORD"], safe="")
    netloc = f"{user}@{database.get('HOST') or ''}" + (f":{database['PORT']}" if database.get("PORT") else "")
    options = {key: value for key, value in (database.get("OPTIONS") or {}).items() if isinstance(value, str)}
    return f"postgres://{netloc}/{database['NAME']}" + (f"?{urlencode(options)}" if options else "")


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment of a manage.py/celery process started by a test: the test settings, the test database
    and media directory, no `.env` and no `make run` runtime file unless a test passes its own."""
    from django.conf import settings

    environment = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        environment.pop(name, None)
    environment.update(
        DJANGO_SETTINGS_MODULE="minirag.settings_test",
        DATABASE_URL=database_url_for_subprocess(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        MINIRAG_ENV_FILE=os.devnull,
        MINIRAG_RUNTIME_FILE="",
    )
    environment.update(overrides)
    return environment
