"""Event delivery: signed requests to a real receiver, retries with backoff, the delivery log."""

import time

import pytest

from minirag import events
from tenants.webhooks import delivery, services, tasks
from tenants.webhooks.models import WebhookDelivery
from tenants.webhooks.tasks import deliver_webhook
from tenants.webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db

SECRET = "receiver-shared-secret-0123456789"


@pytest.fixture(autouse=True)
def allow_private(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True


@pytest.fixture
def countdowns(monkeypatch):
    """Record the countdown of every retry the task schedules (eager mode runs it at once, no sleeping)."""
    recorded: list[int] = []
    real_apply_async = deliver_webhook.apply_async

    def recording_apply_async(*args, **kwargs):
        if "countdown" in kwargs:
            recorded.append(kwargs["countdown"])
        return real_apply_async(*args, **kwargs)

    monkeypatch.setattr(deliver_webhook, "apply_async", recording_apply_async)
    monkeypatch.setattr(delivery.random, "random", lambda: 0.0)  # no jitter: exact schedule
    monkeypatch.setattr(tasks, "RETRY_WHEN_EAGER", True)  # run the chain eagerly, as a worker would
    return recorded


def _webhook(url: str, events_: list[str] | None = None):
    return services.webhook_create(url=url, events=events_ or ["source.ingested"], secret=SECRET).webhook


def _emit(event: str, payload: dict, capture) -> None:
    with capture(execute=True):
        events.emit(event, payload)


def test_event_is_delivered_signed_to_an_independent_receiver(in_tenant, django_capture_on_commit_callbacks):
    with Receiver(secret=SECRET) as receiver:
        webhook = _webhook(receiver.url)
        _emit(
            "source.ingested",
            {"source_id": "s-1", "source_name": "Docs", "document_count": 1, "chunk_count": 3},
            django_capture_on_commit_callbacks,
        )

    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.signature_valid and got.fresh
    assert got.headers["X-MiniRAG-Event"] == "source.ingested"
    assert got.headers["Content-Type"] == "application/json"
    body = got.json
    assert body["source_id"] == "s-1" and body["chunk_count"] == 3 and body["event"] == "source.ingested"
    assert got.headers["X-MiniRAG-Delivery"] == body["delivery_id"]
    assert got.headers["X-MiniRAG-Timestamp"] == str(body["timestamp"])
    assert abs(body["timestamp"] - time.time()) < 60
    log = WebhookDelivery.objects.get(webhook=webhook)
    assert log.success and log.status_code == 200 and log.attempt == 1 and log.duration_ms is not None
    assert str(log.delivery_id) == body["delivery_id"] and log.payload["source_name"] == "Docs"


def test_a_tampered_body_fails_verification():
    body = delivery.build_body(event="chat.message", payload={"chat_id": "c"}, delivery_id="d", timestamp=1)
    headers = delivery.build_headers(secret=SECRET, body=body, event="chat.message", delivery_id="d", timestamp=1)
    tampered = body.replace(b'"timestamp": 1', b'"timestamp": 2')

    assert delivery.sign(SECRET, body) == headers["X-MiniRAG-Signature"]
    assert delivery.sign(SECRET, tampered) != headers["X-MiniRAG-Signature"]


def test_only_active_subscribed_webhooks_get_one_delivery_each(in_tenant, django_capture_on_commit_callbacks):
    with Receiver(secret=SECRET) as receiver:
        chat_hook = _webhook(receiver.url, ["chat.message"])
        both = _webhook(receiver.url, ["chat.message", "source.failed"])
        _webhook(receiver.url, ["source.ingested"])
        inactive = _webhook(receiver.url, ["chat.message"])
        services.webhook_update(webhook=inactive, changes={"is_active": False})
        _emit(
            "chat.message",
            {"chat_id": "c", "message_id": "m", "bot_profile_id": "b"},
            django_capture_on_commit_callbacks,
        )

    assert len(receiver.received) == 2
    assert {d.webhook_id for d in WebhookDelivery.objects.all()} == {chat_hook.id, both.id}
    assert len({r.headers["X-MiniRAG-Delivery"] for r in receiver.received}) == 2


def test_nothing_is_delivered_when_the_transaction_rolls_back(in_tenant, django_capture_on_commit_callbacks):
    with Receiver(secret=SECRET) as receiver:
        _webhook(receiver.url, ["chat.message"])
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            events.emit("chat.message", {"chat_id": "c"})
        # The test transaction never commits: the callbacks are dropped, nothing is sent.

    assert len(callbacks) == 1 and receiver.received == []


def test_server_errors_are_retried_with_exponential_backoff_then_given_up(in_tenant, countdowns, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 8
    with Receiver(secret=SECRET, statuses=[500]) as receiver:
        webhook = _webhook(receiver.url)
        services.webhook_dispatch_event(
            schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
        )

    assert len(receiver.received) == 8
    assert countdowns == [30, 60, 120, 240, 480, 960, 1920]
    assert 55 * 60 <= sum(countdowns) <= 70 * 60  # "about an hour"
    attempts = list(WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt"))
    assert [a.attempt for a in attempts] == list(range(1, 9))
    assert len({a.delivery_id for a in attempts}) == 1
    assert len({r.headers["X-MiniRAG-Delivery"] for r in receiver.received}) == 1
    assert all(a.status_code == 500 and not a.success for a in attempts)
    assert all(a.next_attempt_at is not None for a in attempts[:-1])
    assert attempts[-1].next_attempt_at is None and "giving up after 8 attempts" in attempts[-1].error


def test_a_retry_that_succeeds_stops_the_retries(in_tenant, countdowns):
    with Receiver(secret=SECRET, statuses=[503, 429, 200]) as receiver:
        webhook = _webhook(receiver.url)
        services.webhook_dispatch_event(
            schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
        )

    assert [r.status_code for r in WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt")] == [
        503,
        429,
        200,
    ]
    assert countdowns == [30, 60]


def test_retry_after_is_honoured_for_429(in_tenant, countdowns):
    with Receiver(secret=SECRET, statuses=[429, 200], extra_headers={"Retry-After": "600"}) as receiver:
        _webhook(receiver.url)
        services.webhook_dispatch_event(
            schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
        )

    # The first backoff (30 s) is raised to the 600 s the receiver asked for.
    assert countdowns == [600] and len(receiver.received) == 2
    assert delivery.backoff_seconds(12, jitter=False) == delivery.BACKOFF_MAX_SECONDS


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_client_errors_are_not_retried(in_tenant, countdowns, status):
    with Receiver(secret=SECRET, statuses=[status]) as receiver:
        webhook = _webhook(receiver.url)
        services.webhook_dispatch_event(
            schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
        )

    assert len(receiver.received) == 1 and countdowns == []
    only = WebhookDelivery.objects.get(webhook=webhook)
    assert only.status_code == status and only.next_attempt_at is None


def test_network_errors_are_retried(in_tenant, countdowns, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with Receiver(secret=SECRET) as receiver:
        url = receiver.url
    # The receiver is shut down: every attempt fails to connect.
    webhook = _webhook(url)
    services.webhook_dispatch_event(
        schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
    )

    attempts = list(WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt"))
    assert [a.attempt for a in attempts] == [1, 2, 3] and countdowns == [30, 60]
    assert all(a.status_code is None and a.error.startswith("connection failed") for a in attempts)


def test_the_url_is_checked_again_at_delivery_time(in_tenant, countdowns, settings):
    with Receiver(secret=SECRET) as receiver:
        webhook = _webhook(receiver.url)
        settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
        services.webhook_dispatch_event(
            schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
        )

    assert receiver.received == [] and countdowns == []
    only = WebhookDelivery.objects.get(webhook=webhook)
    assert not only.success and "network policy" in only.error


def test_a_deleted_webhook_stops_its_pending_retries(in_tenant):
    webhook = _webhook("http://127.0.0.1:9/hook")
    webhook_id = str(webhook.id)
    services.webhook_delete(webhook=webhook)

    outcome = services.webhook_deliver_attempt(
        webhook_id=webhook_id,
        delivery_id="00000000-0000-4000-8000-000000000002",
        event="source.ingested",
        payload={},
        attempt=2,
    )

    assert outcome.record is None and outcome.retry_in is None


def test_dispatch_queues_tasks_and_never_delivers_inline(in_tenant, monkeypatch):
    queued: list[dict] = []
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *a, **kw: queued.append(kw))
    _webhook("http://127.0.0.1:9/hook", ["source.failed"])
    _webhook("http://127.0.0.1:9/other", ["source.failed"])

    count = services.webhook_dispatch_event(
        schema_name=in_tenant.tenant.schema_name, event="source.failed", payload={"source_id": "s", "error": "x"}
    )

    assert count == 2 and len(queued) == 2
    assert WebhookDelivery.objects.count() == 0  # nothing was sent yet
    assert {q["kwargs"]["attempt"] for q in queued} == {1}
    route = deliver_webhook.app.amqp.router.route({}, deliver_webhook.name)
    assert route["queue"].name == "webhooks"


def test_old_delivery_attempts_are_pruned(in_tenant):
    from datetime import timedelta

    from django.utils import timezone

    from minirag.celery import app
    from tenants.webhooks.tasks import PRUNE_BEAT_ENTRY

    webhook = _webhook("http://127.0.0.1:9/hook")
    old = WebhookDelivery.objects.create(
        webhook=webhook, delivery_id="00000000-0000-4000-8000-000000000003", event="chat.message"
    )
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    recent = WebhookDelivery.objects.create(
        webhook=webhook, delivery_id="00000000-0000-4000-8000-000000000004", event="chat.message"
    )

    assert services.webhook_prune_deliveries() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert app.conf.beat_schedule[PRUNE_BEAT_ENTRY]["task"] == "minirag.webhooks.tasks.prune_deliveries"


def test_without_a_broker_a_failed_attempt_is_final_instead_of_retrying_in_the_request(in_tenant):
    # Eager mode (no broker) cannot wait for a countdown: retrying would hammer the receiver inside the request.
    with Receiver(secret=SECRET, statuses=[503]) as receiver:
        webhook = _webhook(receiver.url)
        services.webhook_dispatch_event(
            schema_name=in_tenant.tenant.schema_name, event="source.ingested", payload={"source_id": "s"}
        )

    assert len(receiver.received) == 1
    only = WebhookDelivery.objects.get(webhook=webhook)
    assert only.next_attempt_at is None and "not retried (no task broker" in only.error


def test_the_connection_goes_to_the_checked_address_with_the_original_host(monkeypatch):
    monkeypatch.setattr(delivery, "resolve_and_check", lambda url: ["203.0.113.7"])
    target, host, sni = delivery._pinned_target("https://hooks.example.com:8443/in?x=1")

    assert (target, host, sni) == ("https://203.0.113.7:8443/in?x=1", "hooks.example.com:8443", "hooks.example.com")
    monkeypatch.setattr(delivery, "resolve_and_check", lambda url: ["2001:db8::1"])
    assert delivery._pinned_target("http://[2001:db8::1]/h")[:2] == ("http://[2001:db8::1]/h", "[2001:db8::1]")


@pytest.mark.parametrize(
    "url",
    ["http://[2002:a9fe:a9fe::1]/hook", "http://[64:ff9b::a9fe:a9fe]/hook", "http://[2001:0:a9fe:a9fe::1]/hook"],
    ids=["6to4", "nat64", "teredo"],
)
def test_transition_addresses_carrying_metadata_are_refused_at_delivery(url):
    # (private networks are allowed in this module: link-local stays refused, whatever wraps it)
    result = delivery.post(url=url, body=b"{}", headers={})

    assert (result.success, result.retryable, result.status_code) == (False, False, None)
    assert result.error == "URL refused by the outbound network policy"
