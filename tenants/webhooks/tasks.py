"""Celery tasks for webhook delivery. Routed to the `webhooks` queue (settings.CELERY_TASK_ROUTES)."""

from celery import shared_task

from minirag.tenancy import periodic, tenant_context, tenants_all
from tenants.webhooks import services

# Without a broker (CELERY_TASK_ALWAYS_EAGER, the single-process dev mode) a countdown cannot be honoured:
# the retries would run back to back inside the request that emitted the event. There, a failed attempt is
# logged and not retried. Tests switch this on to run the whole retry chain.
RETRY_WHEN_EAGER = False


@shared_task(name="minirag.webhooks.tasks.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook(*, webhook_id: str, delivery_id: str, event: str, payload: dict, attempt: int = 1) -> None:
    """One attempt of one delivery; schedules the next attempt (same delivery id) when it is retryable.

    Runs in the tenant schema that queued it (tenant-schemas-celery). The next attempt is queued as a new
    message with a countdown, so a waiting retry never holds a worker slot.
    """
    eager_without_retries = bool(deliver_webhook.request.is_eager) and not RETRY_WHEN_EAGER
    outcome = services.webhook_deliver_attempt(
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        event=event,
        payload=payload,
        attempt=attempt,
        retries_available=not eager_without_retries,
    )
    if outcome.retry_in is not None:
        deliver_webhook.apply_async(
            kwargs={
                "webhook_id": webhook_id,
                "delivery_id": delivery_id,
                "event": event,
                "payload": payload,
                "attempt": attempt + 1,
            },
            countdown=outcome.retry_in,
        )


@shared_task(name="minirag.webhooks.tasks.prune_tenant_deliveries", ignore_result=True)
def prune_tenant_deliveries() -> int:
    """Runs in one tenant's schema (tenant-schemas-celery header)."""
    return services.webhook_prune_deliveries()


@shared_task(name="minirag.webhooks.tasks.prune_deliveries", ignore_result=True)
def prune_deliveries() -> int:
    """Beat entry point (public schema): one `prune_tenant_deliveries` per tenant."""
    count = 0
    for tenant in tenants_all().iterator():
        with tenant_context(tenant):
            prune_tenant_deliveries.apply_async()
        count += 1
    return count


PRUNE_BEAT_ENTRY = "webhooks-prune-deliveries"


def register_beat() -> None:
    periodic(PRUNE_BEAT_ENTRY, task=prune_deliveries.name, seconds=24 * 3600)
