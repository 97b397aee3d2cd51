"""UsageEvent: one row per LLM, embedding or rerank call (and per knowledge search), in the tenant's schema."""

import uuid

from django.db import models
from django.utils import timezone


class UsageKind(models.TextChoices):
    CHAT = "chat", "Chat completion"
    EMBEDDING = "embedding", "Embedding"
    TITLE = "title", "Chat title"
    CONDENSE = "condense", "Follow-up question rewrite"
    RERANK = "rerank", "Reranking"
    SEARCH = "search", "Knowledge search"


class UsageEvent(models.Model):
    # Related ids are plain UUIDs (not FKs) so history survives deletes and apps stay decoupled.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=UsageKind.choices, default=UsageKind.CHAT)
    model = models.CharField(max_length=200)
    bot_profile_id = models.UUIDField(null=True, blank=True, db_index=True)
    chat_id = models.UUIDField(null=True, blank=True, db_index=True)
    message_id = models.UUIDField(null=True, blank=True)
    source_id = models.UUIDField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=10, default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    stream_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    is_stream = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at", "model"], name="usage_created_model_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.model} {self.total_tokens} tokens"


class QuotaNotice(models.Model):
    """A `usage.threshold` event that was sent: one per quota, period and threshold (80 %, 100 %).

    Rate-like quotas count per period (day, month); size-like ones notify at most once per calendar month.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    quota = models.CharField(max_length=40)
    period = models.CharField(max_length=10)  # "2026-12" or "2026-12-01"
    threshold = models.PositiveSmallIntegerField()  # percent
    used = models.PositiveBigIntegerField()
    limit = models.PositiveBigIntegerField()
    plan = models.CharField(max_length=50)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["quota", "period", "threshold"], name="quota_notice_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.quota} {self.threshold}% ({self.period})"
