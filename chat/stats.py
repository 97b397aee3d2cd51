"""What the chat app counts for statistics and quotas: chats, chat requests, feedback on answers, and the
overview that puts every app's counts side by side (chat is the top layer: it may read them all).

The `chat_requests_per_day` counter is registered with usage from ChatConfig.ready(). Windows (`days`) end now
and start `days` × 24 h ago.
"""

import datetime as dt
from uuid import UUID

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from bots.models import BotProfile
from bots.stats import active_bot_count, with_bot_names
from chat.models import Chat, Message, MessageRole
from sources.models import Chunk, Source
from sources.stats import active_source_count
from usage.models import UsageEvent
from usage.selectors import token_totals


def stats_overview() -> dict:
    """Counts of active bots and sources (soft-deleted rows excluded), chats, and all-time tokens."""
    return {
        "bot_profiles": active_bot_count(),
        "sources": active_source_count(),
        "chats": Chat.objects.count(),
        **token_totals(),
    }


def chat_requests_since(since: dt.datetime) -> int:
    """Chat requests (user messages) since `since`: usage's counter for `chat_requests_per_day`, one query."""
    return Message.objects.filter(created_at__gte=since, role=MessageRole.USER).order_by().count()


# --- Feedback ------------------------------------------------------------------------------------------


def _assistant_messages(*, days: int, bot_profile_id: UUID | None) -> QuerySet[Message]:
    since = timezone.now() - dt.timedelta(days=days)
    queryset = Message.objects.filter(role=MessageRole.ASSISTANT, created_at__gte=since).order_by()
    if bot_profile_id is not None:
        queryset = queryset.filter(chat__bot_profile_id=bot_profile_id)
    return queryset


def _feedback_counts() -> dict:
    return {
        "total_messages": Count("id"),
        "positive_count": Count("id", filter=Q(feedback="positive")),
        "negative_count": Count("id", filter=Q(feedback="negative")),
    }


def _rate(with_feedback: int, total: int) -> float:
    return round(100.0 * with_feedback / total, 2) if total else 0.0


def feedback_summary(*, days: int, bot_profile_id: UUID | None = None) -> dict:
    """Feedback on assistant messages in the window: totals, rate (% with any feedback) and per bot (named)."""
    messages = _assistant_messages(days=days, bot_profile_id=bot_profile_id)
    totals = messages.aggregate(**_feedback_counts())
    rows = messages.values("chat__bot_profile_id").annotate(**_feedback_counts()).order_by("-total_messages")
    by_bot = [
        {
            "bot_profile_id": str(row["chat__bot_profile_id"]),
            "positive_count": row["positive_count"],
            "negative_count": row["negative_count"],
            "total_messages": row["total_messages"],
            "feedback_rate": _rate(row["positive_count"] + row["negative_count"], row["total_messages"]),
        }
        for row in rows
    ]
    with_feedback = totals["positive_count"] + totals["negative_count"]
    return {
        "total_messages": totals["total_messages"],
        "total_with_feedback": with_feedback,
        "positive_count": totals["positive_count"],
        "negative_count": totals["negative_count"],
        "feedback_rate": _rate(with_feedback, totals["total_messages"]),
        "by_bot": with_bot_names(by_bot),
    }


def feedback_trend(*, days: int, bot_profile_id: UUID | None = None) -> list[dict]:
    """Feedback counts per UTC date, oldest first."""
    rows = (
        _assistant_messages(days=days, bot_profile_id=bot_profile_id)
        .annotate(date=TruncDate("created_at", tzinfo=dt.UTC))
        .values("date")
        .annotate(**_feedback_counts())
        .order_by("date")
    )
    return [
        {
            "date": row["date"].isoformat(),
            "positive_count": row["positive_count"],
            "negative_count": row["negative_count"],
            "total_messages": row["total_messages"],
        }
        for row in rows
    ]


# --- Detailed health ---------------------------------------------------------------------------------------


def health_counts() -> dict:
    """The caller's own counts in GET /v1/system/health/detailed (`db_stats`, `bot_sources`), side by side like the
    overview, in a fixed number of queries (no per-bot loop). Registered with minirag.health from ChatConfig.ready()
    (the foundation imports no app)."""
    by_status = dict(Source.objects.filter(is_active=True).values_list("status").annotate(n=Count("id")).order_by())
    usage = UsageEvent.objects.aggregate(
        events=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")
    )
    bots = (
        BotProfile.objects.annotate(
            source_count=Count("sources", filter=Q(sources__is_active=True)),
            ready_sources=Count("sources", filter=Q(sources__is_active=True, sources__status="ready")),
            total_chunks=Sum("sources__chunk_count", filter=Q(sources__is_active=True)),
        )
        .order_by("-created_at", "id")
        .values("id", "name", "model", "is_active", "source_count", "ready_sources", "total_chunks")
    )
    db_stats = {
        "sources_by_status": by_status,
        "total_chunks": Chunk.objects.filter(source__is_active=True).count(),
        "total_messages": Message.objects.count(),
        "total_chats": Chat.objects.count(),
        "total_usage_events": usage["events"] or 0,
        "total_prompt_tokens": usage["prompt"] or 0,
        "total_completion_tokens": usage["completion"] or 0,
    }
    bot_sources = [
        {
            "bot_profile_id": str(bot["id"]),
            "bot_name": bot["name"],
            "model": bot["model"],
            "is_active": bot["is_active"],
            "source_count": bot["source_count"],
            "ready_sources": bot["ready_sources"],
            "total_chunks": bot["total_chunks"] or 0,
        }
        for bot in bots
    ]
    return {"db_stats": db_stats, "bot_sources": bot_sources}
