"""Writes for bot profiles, and the only place credentials are encrypted or decrypted."""

import logging
from typing import Any

from django.db import transaction

from bots.models import BotProfile
from minirag import events
from minirag.encryption import decrypt_json, encrypt_json, rotate
from minirag.errors import InvalidInput
from usage.services import quota_check

logger = logging.getLogger("minirag.bots")

# rerank_*: the reranker is often another provider than the chat model, so it never gets their key or base.
CREDENTIAL_KEYS = ("api_key", "api_base", "api_version", "embedding_api_key", "rerank_api_key", "rerank_api_base")
UPDATABLE_FIELDS = (
    "name",
    "description",
    "model",
    "embedding_model",
    "system_prompt",
    "temperature",
    "max_tokens",
    "retrieval_top_k",
    "score_threshold",
    "language",
    "no_answer_message",
    "rerank_model",
    "is_active",
)
NULLABLE_FIELDS = ("embedding_model", "score_threshold", "rerank_model")


def _encrypt_credentials(credentials: dict[str, Any] | None) -> str | None:
    """Keep the known keys with non-empty values; nothing left → no credentials at all."""
    if not credentials:
        return None
    cleaned = {key: str(credentials[key]) for key in CREDENTIAL_KEYS if credentials.get(key) not in (None, "")}
    return encrypt_json(cleaned) if cleaned else None


def bot_credentials(bot: BotProfile) -> dict[str, str]:
    """The bot's decrypted credentials (the CREDENTIAL_KEYS it has), {} when none.

    Raises minirag.encryption.DecryptionError when no configured key opens them (a key was dropped too early).
    """
    if not bot.encrypted_credentials:
        return {}
    return {key: value for key, value in decrypt_json(bot.encrypted_credentials).items() if key in CREDENTIAL_KEYS}


@transaction.atomic
def bot_create(
    *,
    name: str,
    description: str = "",
    model: str | None = None,
    embedding_model: str | None = None,
    system_prompt: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    retrieval_top_k: int | None = None,
    score_threshold: float | None = None,
    language: str | None = None,
    no_answer_message: str | None = None,
    rerank_model: str | None = None,
    credentials: dict | None = None,
) -> BotProfile:
    """Create a profile. `credentials` are encrypted under the newest key; only `has_credentials` ever shows."""
    quota_check(adding={"bots": 1})  # 403 over the plan's bots
    bot = BotProfile(name=name, description=description or "", embedding_model=embedding_model or None)
    for field, value in (
        ("model", model),
        ("system_prompt", system_prompt),
        ("temperature", temperature),
        ("max_tokens", max_tokens),
        ("retrieval_top_k", retrieval_top_k),
        ("language", language),
        ("no_answer_message", no_answer_message),
    ):
        if value is not None:
            setattr(bot, field, value)
    bot.score_threshold = score_threshold
    bot.rerank_model = rerank_model or None
    bot.encrypted_credentials = _encrypt_credentials(credentials)
    bot.save()
    return bot


def bot_update(*, bot: BotProfile, changes: dict[str, Any]) -> BotProfile:
    """Apply the fields present in `changes` (PATCH semantics).

    `credentials: {}` or `None` clears them; a non-empty object replaces them. Changing the embedding model
    or the language emits `bot.index_config_changed` (internal, after commit): sources re-queue the bot's
    sources so their vectors move to the new embedding space (retrieval searches the space of the bot's
    current model) and their index terms to the new analyzer.
    """
    with transaction.atomic():
        bot = BotProfile.objects.select_for_update().get(pk=bot.pk)
        old_embedding_model = bot.embedding_model or None
        old_language = bot.language
        update_fields = ["updated_at"]
        for field in UPDATABLE_FIELDS:
            if field not in changes:
                continue
            value = changes[field]
            if value is None and field not in NULLABLE_FIELDS:
                raise InvalidInput(
                    [{"loc": ["body", field], "msg": "This field may not be null.", "type": "value_error.null"}]
                )
            if field in ("embedding_model", "rerank_model"):
                value = value or None
            setattr(bot, field, value)
            update_fields.append(field)
        if "credentials" in changes:
            bot.encrypted_credentials = _encrypt_credentials(changes["credentials"])
            update_fields.append("encrypted_credentials")
        bot.save(update_fields=update_fields)
        # New vectors (another embedding space) or new index terms (another analyzer language).
        if (bot.embedding_model or None) != old_embedding_model or bot.language != old_language:
            events.emit(events.BOT_INDEX_CONFIG_CHANGED, {"bot_profile_id": str(bot.pk)})
    return bot


def bot_delete(*, bot: BotProfile) -> BotProfile:
    """Soft delete (`is_active=false`). Retrieval for an inactive bot returns nothing, so its sources stop
    answering at once; the sources themselves are kept (reference behaviour) and come back on reactivation."""
    if bot.is_active:
        bot.is_active = False
        bot.save(update_fields=["is_active", "updated_at"])
    return bot


def bot_credentials_rotate() -> int:
    """Re-encrypt every profile's credentials in the current schema under the newest key. Returns the count."""
    rotated = 0
    with transaction.atomic():
        for bot in BotProfile.objects.select_for_update().exclude(encrypted_credentials__isnull=True):
            if not bot.encrypted_credentials:
                continue
            bot.encrypted_credentials = rotate(bot.encrypted_credentials)
            bot.save(update_fields=["encrypted_credentials", "updated_at"])
            rotated += 1
    return rotated
