"""BotProfile: a tenant's assistant configuration, with provider credentials encrypted at rest."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
DEFAULT_MODEL = "gpt-4o-mini"


class BotProfile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=1000, blank=True, default="")
    model = models.CharField(max_length=100, default=DEFAULT_MODEL)
    # None → DEFAULT_EMBEDDING_MODEL; both empty → sparse (lexical) retrieval only.
    embedding_model = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - null is part of the API
    system_prompt = models.TextField(default=DEFAULT_SYSTEM_PROMPT, blank=True)
    temperature = models.FloatField(default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    max_tokens = models.PositiveIntegerField(default=1024, validators=[MinValueValidator(1), MaxValueValidator(128000)])
    # Fernet (MultiFernet) ciphertext of a JSON object; never serialized, logged or shown in the admin.
    encrypted_credentials = models.TextField(null=True, blank=True)  # noqa: DJ001 - null = no credentials
    retrieval_top_k = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    score_threshold = models.FloatField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["-created_at"], name="botprofile_created_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def has_credentials(self) -> bool:
        return bool(self.encrypted_credentials)
