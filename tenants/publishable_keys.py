"""Publishable (bot) keys: issue, change, delete, and the reads the API and the hosted chat page need.

A publishable key is a public credential for one bot, meant to sit in a web page (the widget, the hosted chat page).
It lives in the public schema beside API tokens (tenants.models.PublishableKey) because credentials are resolved
there, before any tenant schema is entered; the bot it names lives in the tenant's schema, so the caller that
creates a key checks the bot (bots.api.publishable_keys — tenants is the bottom layer and knows no bot).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from minirag.api.origins import InvalidOrigin, normalise_origin
from minirag.errors import InvalidInput, NotFound
from tenants.models import PUBLISHABLE_KEY_PREFIX, PublishableKey, Tenant, User, hash_token

MAX_ALLOWED_ORIGINS = 20
KEY_NOT_FOUND = "Publishable key not found"
UPDATABLE = frozenset({"name", "allowed_origins", "is_active"})


@dataclass(frozen=True)
class IssuedPublishableKey:
    key: PublishableKey
    raw_key: str  # shown once, never stored


def normalise_origins(origins) -> list[str]:
    """Validated, normalised, de-duplicated origins (order kept); InvalidInput naming the first bad one."""
    if not isinstance(origins, list | tuple):
        raise InvalidInput("allowed_origins must be a list of origins such as https://shop.example")
    if len(origins) > MAX_ALLOWED_ORIGINS:
        raise InvalidInput(f"At most {MAX_ALLOWED_ORIGINS} allowed origins per key")
    normalised: list[str] = []
    for origin in origins:
        try:
            value = normalise_origin(origin)
        except InvalidOrigin as error:
            raise InvalidInput(str(error)) from None
        if value not in normalised:
            normalised.append(value)
    return normalised


def publishable_key_create(
    *, tenant: Tenant, created_by: User, bot_profile_id: UUID, name: str, allowed_origins
) -> IssuedPublishableKey:
    """Issue a key for the tenant's bot `bot_profile_id` (the caller has checked the bot exists in the tenant).

    The raw key (`pk_…`) exists only in the result; InvalidInput for a bad origin or a creator of another tenant.
    """
    if created_by.tenant_id != tenant.id:
        raise InvalidInput("Only the tenant's users can issue its publishable keys")
    raw = PUBLISHABLE_KEY_PREFIX + secrets.token_urlsafe(32)
    key = PublishableKey.objects.create(
        tenant=tenant,
        bot_profile_id=bot_profile_id,
        name=name,
        allowed_origins=normalise_origins(allowed_origins),
        key_prefix=raw[:12],
        key_hash=hash_token(raw),
        created_by=created_by,
    )
    return IssuedPublishableKey(key=key, raw_key=raw)


def publishable_key_update(*, key: PublishableKey, changes: dict) -> PublishableKey:
    """Change `name`, `allowed_origins` and/or `is_active` (False pauses the key; the next request gets 401)."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}")
    if "allowed_origins" in changes:
        changes = {**changes, "allowed_origins": normalise_origins(changes["allowed_origins"])}
    for field, value in changes.items():
        setattr(key, field, value)
    if changes:
        key.save(update_fields=[*changes, "updated_at"])
    return key


def publishable_key_delete(*, key: PublishableKey) -> None:
    """Revoke the key for good: the row goes (the next request with it gets 401). Its chats stay (they keep the
    key's id); a paused key (`is_active` False) can be resumed, a deleted one cannot."""
    key.delete()


# --- Reads ----------------------------------------------------------------------------------------------


def publishable_key_list(*, tenant: Tenant, bot_profile_id: UUID | None = None) -> QuerySet[PublishableKey]:
    """The tenant's keys, newest first (with their creators: one query)."""
    keys = PublishableKey.objects.filter(tenant=tenant).select_related("created_by")
    if bot_profile_id is not None:
        keys = keys.filter(bot_profile_id=bot_profile_id)
    return keys.order_by("-created_at", "id")


def publishable_key_get(*, tenant: Tenant, key_id) -> PublishableKey:
    """The tenant's key, or NotFound (another tenant's key answers like a missing one)."""
    try:
        key = PublishableKey.objects.select_related("created_by").filter(tenant=tenant, pk=key_id).first()
    except (ValueError, TypeError, ValidationError):
        key = None
    if key is None:
        raise NotFound(KEY_NOT_FOUND)
    return key


def publishable_key_for_page(*, key_id) -> PublishableKey | None:
    """The key a hosted chat page (/c/<key-id>) shows, when it can chat: active, its tenant and creator active.

    Carries its tenant (select_related) so the page can enter the tenant's schema to read the bot's name. The page
    gets no secret from this: the raw key travels in the share link's URL fragment, never to the server.
    """
    try:
        key = (
            PublishableKey.objects.select_related("tenant", "created_by")
            .filter(pk=key_id, is_active=True, tenant__is_active=True, created_by__is_active=True)
            .first()
        )
    except (ValueError, TypeError, ValidationError):
        return None
    return key
