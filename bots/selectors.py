"""Reads for bot profiles. Everything runs in the current tenant schema."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from bots.models import BotProfile
from minirag.errors import NotFound


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
