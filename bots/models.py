"""BotProfile: a tenant's assistant configuration, with provider credentials encrypted at rest."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_NO_ANSWER_MESSAGE = "I couldn't find this in the knowledge base."
# Snowball stemmers (PyStemmer) the lexical analyzer offers; "none" keeps words as written (folded only).
ANALYZER_LANGUAGES = (
    "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish", "french", "german",
    "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian",
    "portuguese", "romanian", "russian", "serbian", "spanish", "swedish", "tamil", "turkish", "yiddish", "none",
)  # fmt: skip
DEFAULT_LANGUAGE = "english"


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
    # The analyzer's language (stemming, stop words) for indexing, querying and extractive answers.
    language = models.CharField(
        max_length=20, default=DEFAULT_LANGUAGE, choices=[(name, name) for name in ANALYZER_LANGUAGES]
    )
    # What the bot says when retrieval finds nothing good enough (extractive and LLM bots alike).
    no_answer_message = models.CharField(max_length=1000, default=DEFAULT_NO_ANSWER_MESSAGE)
    # A LiteLLM rerank model (e.g. "cohere/rerank-english-v3.0"); None = no reranking.
    rerank_model = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - null is part of the API
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
