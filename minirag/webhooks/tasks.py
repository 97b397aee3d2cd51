"""Celery tasks for webhook delivery. Routed to the `webhooks` queue (settings.CELERY_TASK_ROUTES)."""

from celery import shared_task

from minirag.webhooks import services


@shared_task(name="minirag.webhooks.tasks.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook(*, webhook_id: str, delivery_id: str, event: str, payload: dict, attempt: int = 1) -> None:
    """One attempt of one delivery; schedules the next attempt (same delivery id) when it is retryable.

    Runs in the tenant schema that queued it (tenant-schemas-celery). The next attempt is queued as a new
    message with a countdown, so a waiting retry never holds a worker slot.
    """
    outcome = services.webhook_deliver_attempt(
        webhook_id=webhook_id, delivery_id=delivery_id, event=event, payload=payload, attempt=attempt
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
