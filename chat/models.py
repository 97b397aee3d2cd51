"""Chat sessions and their messages, in the tenant's schema.

`bot_profile_id`, `user_id` and `publishable_key_id` are plain UUIDs rather than foreign keys: the user and the key
live in the public schema, and a chat's history must survive its bot being deleted. The service layer checks
that they exist and belong to the tenant (the schema itself guarantees the tenant).
"""

import uuid

from django.db import models
from django.utils import timezone

TITLE_MAX_CHARS = 100


class Chat(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot_profile_id = models.UUIDField(db_index=True)
    user_id = models.UUIDField(null=True, blank=True, db_index=True)
    # Set when a publishable key (tenants.PublishableKey, public schema) started the chat: only that key may read
    # or continue it, and `user_id` stays empty (an end user on a web page is nobody's account).
    publishable_key_id = models.UUIDField(null=True, blank=True, db_index=True)
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


class EvaluationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class EvaluationRun(models.Model):
    """One evaluation of a bot on a labelled-question file (chat.evaluation), from the console or the command.

    The questions are kept (bounded by chat.evaluation.MAX_FILE_BYTES) so the run can be read and repeated;
    the report is the JSON document `manage.py evaluate --output` writes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot_profile = models.ForeignKey("bots.BotProfile", on_delete=models.CASCADE, related_name="evaluation_runs")
    name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=20, choices=EvaluationStatus.choices, default=EvaluationStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent of the questions done
    question_count = models.PositiveIntegerField(default=0)
    top_k = models.PositiveSmallIntegerField(default=10)
    include_answers = models.BooleanField(default=True)
    questions = models.TextField()
    report = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=2000, blank=True, default="")
    origin = models.CharField(max_length=20, default="console")  # "console" or "command"
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["bot_profile", "-created_at"], name="evalrun_bot_created_idx")]

    def __str__(self) -> str:
        return f"{self.name or 'evaluation'} ({self.status})"
