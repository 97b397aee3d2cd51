"""Webhooks and their delivery log.

Where they live: in the TENANT schema, not in the public schema with a tenant key.
- Isolation is automatic: a request's connection is already switched to the caller's schema by the tenant
  middleware (and a Celery task to the schema that queued it), so no query can forget a `tenant_id` filter
  and another tenant's webhook id simply does not exist here (404, never 403).
- Deliveries are tenant history, like messages and usage; they belong next to the data they describe.
- Deleting a tenant's schema removes its webhooks, secrets and delivery log with it, with nothing left
  behind in a shared table.
The price is that a cross-tenant view (the operator console) has to visit each schema (the admin's
TenantScopedAdmin enters one tenant at a time).
"""

import uuid

from django.db import models
from django.utils import timezone


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2048)
    # A JSON list of event names (see minirag.events.EVENT_TYPES); never empty.
    events = models.JSONField(default=list)
    description = models.CharField(max_length=500, blank=True, default="")
    # Fernet ciphertext (minirag.encryption); decrypted only to sign a delivery.
    encrypted_secret = models.TextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"

    @property
    def has_secret(self) -> bool:
        return bool(self.encrypted_secret)


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one webhook. Retries share `delivery_id` and count `attempt`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    # Sent as X-MiniRAG-Delivery and in the body: the same for every attempt, so receivers can de-duplicate.
    delivery_id = models.UUIDField(db_index=True)
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    attempt = models.PositiveSmallIntegerField(default=1)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    success = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # A short, sanitized reason ("HTTP 503", "connection failed", ...); never the target's response body.
    error = models.CharField(max_length=500, blank=True, default="")
    # When the next attempt is scheduled (null: delivered, given up, or not retryable).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-attempt"]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="webhookdelivery_recent_idx")]

    def __str__(self) -> str:
        outcome = "ok" if self.success else (self.error or "failed")
        return f"{self.event} #{self.attempt} → {outcome}"
