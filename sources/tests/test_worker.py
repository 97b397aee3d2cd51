"""One ingestion through a real Celery worker consuming a real Redis broker (not eager mode).

The worker runs in a thread of this process, so it shares the embedded Qdrant (local mode admits one
process). It needs committed rows, hence a transactional test; its data is removed afterwards.
"""

import os
import time
import uuid

import pytest

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_broker():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is unreachable at {REDIS_URL} ({type(error).__name__}); set TEST_REDIS_URL")
    return REDIS_URL


def _reset_pools(app) -> None:
    """Forget connections and routing built from the previous configuration (both are cached), including
    kombu's global producer pools and the stopped worker's event loop, which later worker tests would inherit."""
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


@pytest.fixture
def celery_worker(redis_broker):
    """Point the app at Redis, route the ingest tasks to a queue of our own, and run a worker thread."""
    from celery.contrib.testing.worker import start_worker

    from minirag.celery import app

    queue = f"ingest-test-{uuid.uuid4().hex[:8]}"
    # The app reads Django settings with the CELERY_ namespace, so overrides use the namespaced keys.
    keys = ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_ROUTES")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(
        CELERY_BROKER_URL=redis_broker,
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_TASK_ROUTES={"sources.tasks.*": {"queue": queue}},
    )
    _reset_pools(app)  # no pooled connection to the old (empty) broker URL
    try:
        with start_worker(
            app, pool="solo", concurrency=1, queues=[queue], perform_ping_check=False, loglevel="WARNING",
            shutdown_timeout=10,
        ):  # fmt: skip
            yield app
    finally:
        app.conf.update(saved)
        _reset_pools(app)
        import redis

        redis.Redis.from_url(redis_broker).delete(queue)


def test_ingestion_runs_in_a_real_worker_through_redis(tenant_rows_restored_at_session_end, tenant_a, celery_worker):
    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources import services
    from sources.models import Source, SourceStatus
    from sources.retrieval import retrieve

    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Worker bot")
    try:
        with tenant_context(tenant_a.tenant):
            source = services.source_create(
                bot_profile_id=bot.pk,
                name="Worker notes",
                source_type="text",
                content="Narwhals have a long spiral tusk that is actually a tooth.",
            )
            services.source_ingest(source=source)  # autocommit: queued to Redis right away
            assert Source.objects.get(pk=source.pk).stage == "queued"

        deadline = time.monotonic() + 30
        while True:
            with tenant_context(tenant_a.tenant):
                current = Source.objects.get(pk=source.pk)
            if current.status in (SourceStatus.READY, SourceStatus.ERROR) or time.monotonic() > deadline:
                break
            time.sleep(0.1)

        assert current.status == SourceStatus.READY, (current.status, current.stage, current.error_message)
        assert current.chunk_count == 1
        with tenant_context(tenant_a.tenant):  # the worker ran in tenant A's schema, not public
            hits = retrieve(bot=bot, query="narwhal spiral tusk")
        assert hits and hits[0].source_id == str(source.pk)
    finally:
        with tenant_context(tenant_a.tenant):
            BotProfile.objects.filter(pk=bot.pk).delete()
