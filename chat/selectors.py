"""Reads for chats and messages. Everything runs in the current tenant schema (the tenant is the schema)."""

import datetime as dt
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from chat.models import Chat, Message, MessageRole
from chat.prompts import HistoryItem
from minirag.errors import NotFound

CHAT_NOT_FOUND = "Chat session not found"
MESSAGE_NOT_FOUND = "Message not found"
# At most this many messages are loaded for the history window (the token budget trims further).
HISTORY_MAX_MESSAGES = 200


def chat_list(*, bot_profile_id: UUID | None = None) -> QuerySet[Chat]:
    """The tenant's chats, newest first (every member sees every chat, as in the reference)."""
    queryset = Chat.objects.order_by("-created_at", "-id")
    if bot_profile_id is not None:
        queryset = queryset.filter(bot_profile_id=bot_profile_id)
    return queryset


def chat_get(*, chat_id, bot_profile_id: UUID | None = None, publishable_key_id: UUID | None = None) -> Chat:
    """The chat, or NotFound("Chat session not found"); with `bot_profile_id`, only that bot's chat; with
    `publishable_key_id`, only a chat that key started (a key never sees another credential's chats)."""
    queryset = Chat.objects.all()
    if bot_profile_id is not None:
        queryset = queryset.filter(bot_profile_id=bot_profile_id)
    if publishable_key_id is not None:
        queryset = queryset.filter(publishable_key_id=publishable_key_id)
    try:
        chat = queryset.filter(pk=chat_id).first()
    except (ValueError, TypeError, ValidationError):
        chat = None
    if chat is None:
        raise NotFound(CHAT_NOT_FOUND)
    return chat


def message_list(*, chat: Chat) -> QuerySet[Message]:
    """The chat's messages, oldest first."""
    return Message.objects.filter(chat=chat).order_by("created_at", "id")


def message_get(*, chat: Chat, message_id) -> Message:
    try:
        message = Message.objects.filter(chat=chat, pk=message_id).first()
    except (ValueError, TypeError, ValidationError):
        message = None
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return message


def chat_history(*, chat: Chat) -> list[HistoryItem]:
    """The newest user/assistant messages of the chat (bounded), oldest first, skipping empty partial answers."""
    rows = (
        Message.objects.filter(chat=chat, role__in=(MessageRole.USER, MessageRole.ASSISTANT))
        .exclude(content="")
        .order_by("-created_at", "-id")
        .values_list("role", "content")[:HISTORY_MAX_MESSAGES]
    )
    return [HistoryItem(role=role, content=content) for role, content in reversed(list(rows))]


def chats_for_export(
    *,
    bot_profile_id: UUID | None = None,
    from_date: dt.date | None = None,
    to_date: dt.date | None = None,
) -> QuerySet[Chat]:
    """Chats newest first, created within [from_date, to_date] (whole days, UTC)."""
    queryset = chat_list(bot_profile_id=bot_profile_id)
    if from_date is not None:
        queryset = queryset.filter(created_at__gte=_day_start(from_date))
    if to_date is not None:
        queryset = queryset.filter(created_at__lt=_day_start(to_date + dt.timedelta(days=1)))
    return queryset


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
