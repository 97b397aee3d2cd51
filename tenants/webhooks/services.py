"""Writes and workflows for webhooks: CRUD, event fan-out, one delivery attempt, the test ping."""

import logging
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from minirag.encryption import decrypt_text, encrypt_text, rotate
from minirag.errors import InvalidInput
from minirag.events import EVENT_TYPES
from minirag.netguard import UnsafeURLError, check_url
from minirag.tenancy import tenant_context, tenants_all
from tenants.webhooks import delivery
from tenants.webhooks.models import Webhook, WebhookDelivery

logger = logging.getLogger("minirag.webhooks")

TEST_EVENT = "test.ping"
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    raw_secret: str  # returned to the caller exactly once


@dataclass(frozen=True)
class TestResult:
    success: bool
    status_code: int | None
    message: str


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([{"loc": ["body", field], "msg": message, "type": "value_error"}])


def validate_url(url: str) -> str:
    """http(s) only, and the SSRF guard (the same one URL sources use). Raises InvalidInput (422)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise _invalid("url", f"url must be 1 to {MAX_URL_LENGTH} characters")
    try:
        check_url(url)
    except UnsafeURLError as error:
        raise _invalid("url", str(error)) from None
    return url


def validate_events(events) -> list[str]:
    if not isinstance(events, list) or not events:
        raise _invalid("events", f"At least one event is required. Valid: {list(EVENT_TYPES)}")
    cleaned: list[str] = []
    for event in events:
        if event not in EVENT_TYPES:
            raise _invalid("events", f"Invalid event type: {event}. Valid: {list(EVENT_TYPES)}")
        if event not in cleaned:
            cleaned.append(event)
    return cleaned


def webhook_create(*, url: str, events: list[str], description: str = "", secret: str | None = None) -> CreatedWebhook:
    """Create a webhook in the current tenant schema. The secret (generated when absent) is stored encrypted
    and returned in the result only; nobody can read it back later."""
    url = validate_url(url)
    events = validate_events(events)
    raw_secret = secret or secrets.token_urlsafe(32)
    webhook = Webhook.objects.create(
        url=url, events=events, description=description or "", encrypted_secret=encrypt_text(raw_secret)
    )
    return CreatedWebhook(webhook=webhook, raw_secret=raw_secret)


def webhook_update(*, webhook: Webhook, changes: dict) -> Webhook:
    """Partial update of url, events, description and is_active. A new url passes the SSRF guard again."""
    if "url" in changes:
        webhook.url = validate_url(changes["url"])
    if "events" in changes:
        webhook.events = validate_events(changes["events"])
    if "description" in changes:
        webhook.description = changes["description"] or ""
    if "is_active" in changes:
        webhook.is_active = bool(changes["is_active"])
    webhook.save()
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Hard delete, with its delivery log. Queued retries for it find nothing and stop."""
    webhook.delete()


# --- Delivery ----------------------------------------------------------------------------------------------


def webhook_dispatch_event(*, schema_name: str, event: str, payload: dict) -> int:
    """Queue one delivery task per active webhook of `schema_name` subscribed to `event`.

    Called by the minirag.events subscriber after the emitting transaction committed. Never delivers
    inline: with a broker the tasks go to the `webhooks` queue; without one (eager tasks, `make run`'s
    single-process mode) they run on a background thread, so a slow receiver never holds up the chat reply
    or ingestion that fired the event. Returns the number of deliveries queued.
    """
    tenant = tenants_all().filter(schema_name=schema_name).first()
    if tenant is None:  # the tenant was deleted since the event
        return 0
    with tenant_context(tenant):
        webhook_ids = [
            str(webhook_id)
            for webhook_id in Webhook.objects.filter(is_active=True, events__contains=[event]).values_list(
                "id", flat=True
            )
        ]
    if not webhook_ids:
        return 0
    if settings.CELERY_TASK_ALWAYS_EAGER and settings.WEBHOOK_EAGER_IN_BACKGROUND:
        _eager_pool().submit(_queue_deliveries, tenant, webhook_ids, event, payload, close_connection=True)
    else:
        _queue_deliveries(tenant, webhook_ids, event, payload)
    return len(webhook_ids)


@lru_cache(maxsize=1)
def _eager_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-delivery")


def _queue_deliveries(
    tenant, webhook_ids: list[str], event: str, payload: dict, *, close_connection: bool = False
) -> None:
    from tenants.webhooks.tasks import deliver_webhook  # here: tasks imports this module

    try:
        with tenant_context(tenant):
            for webhook_id in webhook_ids:
                # Queued inside the tenant's schema: tenant-schemas-celery stamps the task with it.
                deliver_webhook.apply_async(
                    kwargs={
                        "webhook_id": webhook_id,
                        "delivery_id": str(uuid.uuid4()),
                        "event": event,
                        "payload": payload,
                        "attempt": 1,
                    }
                )
    except Exception:  # a background delivery must never die silently
        logger.exception("webhook delivery for %s in %s failed", event, tenant.schema_name)
    finally:
        if close_connection:
            connection.close()  # the background thread's own connection


@dataclass(frozen=True)
class AttemptOutcome:
    record: WebhookDelivery | None  # None: the webhook is gone or inactive, nothing was sent
    retry_in: int | None  # seconds until the next attempt, or None when there is none


def webhook_deliver_attempt(
    *, webhook_id: str, delivery_id: str, event: str, payload: dict, attempt: int, retries_available: bool = True
) -> AttemptOutcome:
    """Send attempt number `attempt` of one delivery and log it as a WebhookDelivery.

    Retries (the caller schedules them) happen on network errors, 5xx and 429, with exponential backoff,
    up to WEBHOOK_MAX_ATTEMPTS attempts in all; other 4xx, redirects and refused URLs are final. The URL
    is checked by the SSRF guard again here, because DNS may have changed since it was stored.
    `retries_available=False` (no broker to schedule them on) makes every attempt final.
    """
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None or not webhook.is_active:
        return AttemptOutcome(record=None, retry_in=None)
    timestamp = int(time.time())
    body = delivery.build_body(event=event, payload=payload, delivery_id=delivery_id, timestamp=timestamp)
    headers = delivery.build_headers(
        secret=decrypt_text(webhook.encrypted_secret),
        body=body,
        event=event,
        delivery_id=delivery_id,
        timestamp=timestamp,
    )
    result = delivery.post(url=webhook.url, body=body, headers=headers)
    retry_in = None
    error = result.error
    if result.retryable and not retries_available:
        error = f"{error}; not retried (no task broker: tasks run in-process)"
    elif result.retryable and attempt < settings.WEBHOOK_MAX_ATTEMPTS:
        retry_in = delivery.backoff_seconds(attempt, retry_after=result.retry_after)
    elif result.retryable:
        error = f"{error}; giving up after {attempt} attempts"
    record = WebhookDelivery.objects.create(
        webhook=webhook,
        delivery_id=delivery_id,
        event=event,
        payload=payload,
        attempt=attempt,
        status_code=result.status_code,
        success=result.success,
        duration_ms=result.duration_ms,
        error=error[:500],
        next_attempt_at=timezone.now() + timedelta(seconds=retry_in) if retry_in is not None else None,
    )
    if not result.success:
        logger.info("webhook %s %s attempt %s failed: %s", webhook_id, event, attempt, error)
    return AttemptOutcome(record=record, retry_in=retry_in)


_TEST_MESSAGES = {
    True: "The endpoint accepted the test event",
    False: "The endpoint answered with a non-2xx status",
    None: "The endpoint could not be reached",
}


def webhook_test(*, webhook: Webhook) -> TestResult:
    """Send a signed `test.ping` now (the caller waits for it) and log it.

    The result says whether the endpoint answered 2xx and with which status code. It never carries the
    response body, the error class or any other network detail: a refused URL, a DNS failure, a refused
    connection and a timeout all look the same, so the endpoint cannot be used to probe a network.
    """
    delivery_id = str(uuid.uuid4())
    timestamp = int(time.time())
    payload = {"webhook_id": str(webhook.id)}
    body = delivery.build_body(event=TEST_EVENT, payload=payload, delivery_id=delivery_id, timestamp=timestamp)
    headers = delivery.build_headers(
        secret=decrypt_text(webhook.encrypted_secret),
        body=body,
        event=TEST_EVENT,
        delivery_id=delivery_id,
        timestamp=timestamp,
    )
    result = delivery.post(url=webhook.url, body=body, headers=headers)
    WebhookDelivery.objects.create(
        webhook=webhook,
        delivery_id=delivery_id,
        event=TEST_EVENT,
        payload=payload,
        attempt=1,
        status_code=result.status_code,
        success=result.success,
        duration_ms=result.duration_ms,
        error=result.error[:500],
    )
    reached = None if result.status_code is None else result.success
    return TestResult(success=result.success, status_code=result.status_code, message=_TEST_MESSAGES[reached])


DELIVERY_RETENTION = timedelta(days=30)


def webhook_prune_deliveries(*, now=None) -> int:
    """Delete delivery attempts older than DELIVERY_RETENTION in the current tenant schema (the log is for
    debugging integrations, not an archive). Returns how many rows went."""
    cutoff = (now or timezone.now()) - DELIVERY_RETENTION
    deleted, _ = WebhookDelivery.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def webhook_secrets_rotate() -> int:
    """Re-encrypt every webhook secret in the current schema under the newest key. Returns the count."""
    rotated = 0
    with transaction.atomic():
        for webhook in Webhook.objects.select_for_update().exclude(encrypted_secret=""):
            webhook.encrypted_secret = rotate(webhook.encrypted_secret)
            webhook.save(update_fields=["encrypted_secret"])
            rotated += 1
    return rotated
