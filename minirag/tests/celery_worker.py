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
    including kombu's global producer pools and a stopped worker's event loop, which would otherwise never
    fire a later worker's ETA timers."""
    from kombu import pools
    from kombu.asynchronous import set_event_loop

    pools.reset()
    set_event_loop(None)
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
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
