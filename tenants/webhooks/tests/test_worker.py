"""Webhook delivery through a real Celery worker consuming a real Redis broker (not eager mode): the task
runs in the tenant's schema, on the queue the `minirag.webhooks.tasks.*` route names, and a retry comes back
through the broker after its countdown."""

import time

import pytest

from minirag.tests.celery_worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SECRET = "worker-receiver-secret-0123456789"


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """Transactional tests end with a flush of the public tables; the tenant schemas survive it, so put the
    session's tenant rows back for later tests and later --reuse-db runs."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


@pytest.fixture
def webhook_worker(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    with running_worker("minirag.webhooks.tasks.*", queue_prefix="webhooks-test") as app:
        yield app


def test_event_is_delivered_and_retried_by_a_real_worker(tenant_a, webhook_worker, monkeypatch):
    from minirag import events
    from minirag.tenancy import tenant_context
    from tenants.webhooks import delivery, services
    from tenants.webhooks.models import WebhookDelivery
    from tenants.webhooks.tests.receiver import Receiver

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
