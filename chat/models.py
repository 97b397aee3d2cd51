"""Chat sessions and their messages, in the tenant's schema.

`bot_profile_id` and `user_id` are plain UUIDs rather than foreign keys: the user lives in the public
schema, and a chat's history must survive its bot being deleted. The service layer checks that both exist
and belong to the tenant (the schema itself guarantees the tenant).
"""

import uuid

from django.db import models
from django.utils import timezone

TITLE_MAX_CHARS = 100


class Chat(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot_profile_id = models.UUIDField(db_index=True)
    user_id = models.UUIDField(null=True, blank=True, db_index=True)
    title = models.CharField(max_length=500, blank=True, default="")
    message_count = models.PositiveIntegerField(default=0)
    total_prompt_tokens = models.PositiveBigIntegerField(default=0)
    total_completion_tokens = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["bot_profile_id", "-created_at"], name="chat_bot_created_idx")]

    def __str__(self) -> str:
        return self.title or str(self.id)


class MessageRole(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class Feedback(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=MessageRole.choices)
    content = models.TextField(blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # Retrieved chunk ids (the reference's context_chunks) and what the answer cited, as shown to the client.
    context_chunks = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)
    # null = no feedback (the wire value is null, distinct from any string).
    feedback = models.CharField(max_length=20, choices=Feedback.choices, null=True, blank=True)  # noqa: DJ001
    # False when generation stopped early (client disconnected, provider failed mid-stream).
    is_complete = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["chat", "created_at"], name="message_chat_created_idx"),
            models.Index(fields=["role", "created_at"], name="message_role_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"
