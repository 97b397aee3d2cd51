"""Reads for bot profiles. Everything runs in the current tenant schema."""

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from bots.models import BotProfile
from minirag.errors import InvalidInput, NotFound


def bot_list() -> QuerySet[BotProfile]:
    """All of the tenant's profiles, newest first, inactive ones included (reference behaviour)."""
    return BotProfile.objects.order_by("-created_at", "id")


def bot_get(*, bot_id, active_only: bool = False) -> BotProfile:
    """The profile with `bot_id`, or NotFound("Bot profile not found") (also for malformed ids)."""
    queryset = BotProfile.objects.all()
    if active_only:
        queryset = queryset.filter(is_active=True)
    try:
        bot = queryset.filter(pk=bot_id).first()
    except (ValueError, TypeError, ValidationError):
        bot = None
    if bot is None:
        raise NotFound("Bot profile not found")
    return bot


def bot_by_name_or_id(name_or_id: str) -> BotProfile:
    """The active profile with this id or (unique) name, for commands that take either.

    Raises NotFound when there is none, InvalidInput (listing the ids) when several share the name."""
    try:
        bots = list(BotProfile.objects.filter(pk=uuid.UUID(name_or_id), is_active=True))
    except ValueError:
        bots = list(BotProfile.objects.filter(name=name_or_id, is_active=True).order_by("created_at")[:10])
    if not bots:
        raise NotFound(f"No active bot {name_or_id!r} in this tenant")
    if len(bots) > 1:
        ids = ", ".join(str(bot.id) for bot in bots)
        raise InvalidInput(f"Several bots are named {name_or_id!r}; pass an id ({ids})")
    return bots[0]
