"""Without a broker (make run's single-process mode), a slow receiver must not hold up the reply that
fired the event: the delivery runs on a background thread."""

import time

import pytest

from minirag.tenancy import tenant_context
from tenants.webhooks import services
from tenants.webhooks.models import Webhook, WebhookDelivery
from tenants.webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)  # the background thread has its own connection

SECRET = "background-receiver-secret-0123"


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """A transactional test ends with a flush of the public tables: put the session's tenant rows back."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


def test_slow_receiver_does_not_delay_the_chat_reply(tenant_a, settings):
    from bots.models import BotProfile
    from chat.models import Chat
    from usage.models import UsageEvent

    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    settings.WEBHOOK_EAGER_IN_BACKGROUND = True
    receiver = Receiver(secret=SECRET, delay_seconds=3.0).__enter__()
    with tenant_context(tenant_a.tenant):
        services.webhook_create(url=receiver.url, events=["chat.message"], secret=SECRET)
        bot = BotProfile.objects.create(name="Background", model="extractive")
    try:
        started = time.monotonic()
        response = tenant_a.client().post("/v1/chat", {"bot_profile_id": str(bot.id), "message": "hi"}, format="json")
        elapsed = time.monotonic() - started

        assert response.status_code == 200, response.content
        assert elapsed < 2.5, f"the reply waited for the receiver ({elapsed:.1f}s)"
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(receiver.received) == 1 and receiver.received[0].signature_valid
        assert receiver.received[0].json["chat_id"] == response.json()["chat_id"]
        deadline = time.monotonic() + 20
        with tenant_context(tenant_a.tenant):
            while not WebhookDelivery.objects.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert WebhookDelivery.objects.get().status_code == 200
    finally:
        receiver.__exit__(None, None, None)
        with tenant_context(tenant_a.tenant):
            WebhookDelivery.objects.all().delete()
            Webhook.objects.all().delete()
            Chat.objects.all().delete()
            UsageEvent.objects.all().delete()
            BotProfile.objects.filter(pk=bot.pk).delete()
