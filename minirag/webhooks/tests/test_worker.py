"""Webhook delivery through a real Celery worker consuming a real Redis broker (not eager mode): the task
runs in the tenant's schema, on the queue the `minirag.webhooks.tasks.*` route names, and a retry comes back
through the broker after its countdown."""

import os
import time
import uuid

import pytest

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "worker-receiver-secret-0123456789"


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """Transactional tests end with a flush of the public tables; the tenant schemas survive it, so put the
    session's tenant rows back for later tests and later --reuse-db runs."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


def _reset_pools(app) -> None:
    """Forget broker connections and routing built from an earlier configuration. kombu also keeps global
    producer pools keyed by connection URL; another worker test may have closed the one for this URL."""
    from kombu import pools
    from kombu.asynchronous import set_event_loop

    pools.reset()
    set_event_loop(None)  # a stopped worker's hub would otherwise never fire our retry's ETA timer
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    if "amqp" in app.__dict__:
        amqp = app.__dict__["amqp"]
        amqp._producer_pool = None
        amqp.flush_routes()
        amqp.__dict__.pop("router", None)


@pytest.fixture
def webhook_worker(settings):
    import redis
    from celery.contrib.testing.worker import start_worker

    from minirag.celery import app

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is unreachable at {REDIS_URL} ({type(error).__name__}); set TEST_REDIS_URL")
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    queue = f"webhooks-test-{uuid.uuid4().hex[:8]}"
    keys = ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_ROUTES")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_TASK_ROUTES={"minirag.webhooks.tasks.*": {"queue": queue}},
    )
    _reset_pools(app)
    try:
        with start_worker(
            app, pool="solo", concurrency=1, queues=[queue], perform_ping_check=False, loglevel="WARNING",
            shutdown_timeout=10,
        ):  # fmt: skip
            yield app
    finally:
        app.conf.update(saved)
        _reset_pools(app)
        redis.Redis.from_url(REDIS_URL).delete(queue)


def test_event_is_delivered_and_retried_by_a_real_worker(tenant_a, webhook_worker, monkeypatch):
    from minirag import events
    from minirag.tenancy import tenant_context
    from minirag.webhooks import delivery, services
    from minirag.webhooks.models import WebhookDelivery
    from minirag.webhooks.tests.receiver import Receiver

    monkeypatch.setattr(delivery, "BACKOFF_BASE_SECONDS", 1)  # the retry comes back after ~1 s, not 30 s
    with Receiver(secret=SECRET, statuses=[503, 200]) as receiver:
        with tenant_context(tenant_a.tenant):
            webhook = services.webhook_create(url=receiver.url, events=["chat.message"], secret=SECRET).webhook
            # Autocommit: the event is published at once and the task goes to Redis, not run here.
            events.emit(events.CHAT_MESSAGE, {"chat_id": "c-1", "message_id": "m-1", "bot_profile_id": "b-1"})

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with tenant_context(tenant_a.tenant):  # the worker logs each attempt in tenant A's schema
                attempts = list(WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt"))
            if len(attempts) >= 2:
                break
            time.sleep(0.1)

    with tenant_context(tenant_a.tenant):
        webhook.delete()
    assert [r.signature_valid for r in receiver.received] == [True, True]
    assert receiver.received[0].headers["X-MiniRAG-Delivery"] == receiver.received[1].headers["X-MiniRAG-Delivery"]
    assert [(a.attempt, a.status_code, a.success) for a in attempts] == [(1, 503, False), (2, 200, True)]
