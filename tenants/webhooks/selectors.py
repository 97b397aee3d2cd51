"""Reads for webhooks. They run in the caller's tenant schema, so nothing here filters by tenant."""

from django.db.models import QuerySet

from minirag.errors import NotFound
from tenants.webhooks.models import Webhook, WebhookDelivery


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.order_by("-created_at", "id")


def webhook_get(*, webhook_id) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound("Webhook not found")
    return webhook


def webhook_delivery_list(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """Newest first; the API bounds it with limit/offset."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-attempt", "id")
