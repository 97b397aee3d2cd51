"""Usage and feedback statistics (`/v1/stats`), each computed with a few aggregate queries.

Costs are the USD amounts stored with every UsageEvent when it was recorded (LiteLLM's cost map at that
time), so a later price change does not rewrite history. Windows (`days`) end now and start `days` × 24 h ago.
"""

import datetime as dt
from decimal import Decimal
from uuid import UUID

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from minirag.integrations.pricing import (
    DEFAULT_COMPLETION_COST_PER_1M,
    DEFAULT_PROMPT_COST_PER_1M,
    known_models,
    price_per_1m,
)
from usage.models import UsageEvent

DAYS_MIN = 1
DAYS_MAX = 3650


def _since(days: int | None) -> dt.datetime | None:
    return timezone.now() - dt.timedelta(days=days) if days else None


def _events(days: int | None) -> QuerySet[UsageEvent]:
    queryset = UsageEvent.objects.all()
    since = _since(days)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    return queryset.order_by()


def _money(value, places: int = 6) -> float:
    return float(round(Decimal(value or 0), places))


def _token_sums() -> dict:
    return {
        "prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
        "completion_tokens": Coalesce(Sum("completion_tokens"), 0),
        "total_tokens": Coalesce(Sum("total_tokens"), 0),
        "request_count": Count("id"),
    }


def _bot_names(bot_ids) -> dict:
    from bots.models import BotProfile

    ids = [bot_id for bot_id in set(bot_ids) if bot_id is not None]
    if not ids:
        return {}
    return dict(BotProfile.objects.filter(pk__in=ids).values_list("id", "name"))


# --- Overview and usage ---------------------------------------------------------------------------------


def stats_overview() -> dict:
    """Counts of active bots and sources (soft-deleted rows excluded), chats, and all-time tokens."""
    from bots.models import BotProfile
    from chat.models import Chat
    from sources.models import Source

    tokens = UsageEvent.objects.order_by().aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0), completion=Coalesce(Sum("completion_tokens"), 0)
    )
    return {
        "bot_profiles": BotProfile.objects.filter(is_active=True).count(),
        "sources": Source.objects.filter(is_active=True).count(),
        "chats": Chat.objects.count(),
        "total_prompt_tokens": tokens["prompt"],
        "total_completion_tokens": tokens["completion"],
        "total_tokens": tokens["prompt"] + tokens["completion"],
    }


def usage_daily(*, days: int | None) -> list[dict]:
    """Tokens and calls per (UTC date, model), newest date first."""
    rows = (
        _events(days)
        .annotate(date=TruncDate("created_at", tzinfo=dt.UTC))
        .values("date", "model")
        .annotate(**_token_sums())
        .order_by("-date", "model")
    )
    return [
        {
            "date": row["date"].isoformat(),
            "model": row["model"],
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "total_tokens": row["total_tokens"],
            "request_count": row["request_count"],
        }
        for row in rows
    ]


def usage_by_bot(*, days: int | None) -> list[dict]:
    """Tokens, calls and cost per (bot, model), largest total first. Bot names in one extra query."""
    rows = list(
        _events(days)
        .values("bot_profile_id", "model")
        .annotate(**_token_sums(), cost=Coalesce(Sum("cost_usd"), Decimal(0)))
        .order_by("-total_tokens", "model")
    )
    names = _bot_names(row["bot_profile_id"] for row in rows)
    return [
        {
            "bot_profile_id": str(row["bot_profile_id"]) if row["bot_profile_id"] else None,
            "bot_name": names.get(row["bot_profile_id"]),
            "model": row["model"],
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "total_tokens": row["total_tokens"],
            "request_count": row["request_count"],
            "cost_usd": _money(row["cost"]),
        }
        for row in rows
    ]


def usage_by_model(*, days: int | None) -> list[dict]:
    """Tokens, calls, cost and current prices per model, largest total first."""
    rows = (
        _events(days)
        .values("model")
        .annotate(**_token_sums(), cost=Coalesce(Sum("cost_usd"), Decimal(0)))
        .order_by("-total_tokens", "model")
    )
    result = []
    for row in rows:
        prompt_rate, completion_rate, _ = price_per_1m(row["model"])
        result.append(
            {
                "model": row["model"],
                "prompt_tokens": row["prompt_tokens"],
                "completion_tokens": row["completion_tokens"],
                "total_tokens": row["total_tokens"],
                "request_count": row["request_count"],
                "cost_usd": _money(row["cost"]),
                "prompt_cost_per_1m": float(prompt_rate),
                "completion_cost_per_1m": float(completion_rate),
            }
        )
    return result


def cost_estimate(*, days: int) -> dict:
    """Cost over the window, the average per day with usage, and that average projected over 30 days."""
    window = _events(days)
    totals = window.aggregate(
        cost=Coalesce(Sum("cost_usd"), Decimal(0)),
        active_days=Count(TruncDate("created_at", tzinfo=dt.UTC), distinct=True),
    )
    total = Decimal(totals["cost"] or 0)
    active_days = totals["active_days"] or 0
    daily = total / active_days if active_days else Decimal(0)
    return {
        "total_cost_usd": _money(total),
        "daily_avg_cost_usd": _money(daily),
        "projected_monthly_usd": _money(daily * 30, 2),
        "active_days": active_days,
        "by_model": usage_by_model(days=days),
        "by_bot": usage_by_bot(days=days),
    }


def pricing() -> dict:
    """Prices (USD per 1M tokens) of every chat and embedding model in LiteLLM's cost map, plus the default."""
    return {
        "models": {
            model: {"prompt_cost_per_1m": float(prompt), "completion_cost_per_1m": float(completion)}
            for model, (prompt, completion) in sorted(known_models().items())
        },
        "default": {
            "prompt_cost_per_1m": float(DEFAULT_PROMPT_COST_PER_1M),
            "completion_cost_per_1m": float(DEFAULT_COMPLETION_COST_PER_1M),
        },
    }


# --- Feedback ------------------------------------------------------------------------------------------


def _assistant_messages(*, days: int, bot_profile_id: UUID | None):
    from chat.models import Message, MessageRole

    queryset = Message.objects.filter(role=MessageRole.ASSISTANT, created_at__gte=_since(days)).order_by()
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
    """Feedback on assistant messages in the window: totals, rate (% with any feedback) and per bot."""
    messages = _assistant_messages(days=days, bot_profile_id=bot_profile_id)
    totals = messages.aggregate(**_feedback_counts())
    rows = list(messages.values("chat__bot_profile_id").annotate(**_feedback_counts()).order_by("-total_messages"))
    names = _bot_names(row["chat__bot_profile_id"] for row in rows)
    with_feedback = totals["positive_count"] + totals["negative_count"]
    return {
        "total_messages": totals["total_messages"],
        "total_with_feedback": with_feedback,
        "positive_count": totals["positive_count"],
        "negative_count": totals["negative_count"],
        "feedback_rate": _rate(with_feedback, totals["total_messages"]),
        "by_bot": [
            {
                "bot_profile_id": str(row["chat__bot_profile_id"]),
                "bot_name": names.get(row["chat__bot_profile_id"]),
                "positive_count": row["positive_count"],
                "negative_count": row["negative_count"],
                "total_messages": row["total_messages"],
                "feedback_rate": _rate(row["positive_count"] + row["negative_count"], row["total_messages"]),
            }
            for row in rows
        ],
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


# --- Quotas ----------------------------------------------------------------------------------------------


def rate_quota_seed(*, quota: str, since: dt.datetime) -> int:
    """The database's count for a rate-like quota since `since` (seeds its cache counter): one aggregate query."""
    if quota == "tokens_per_month":
        from usage.models import UsageKind

        return (
            UsageEvent.objects.filter(created_at__gte=since, kind__in=(UsageKind.CHAT, UsageKind.TITLE))
            .order_by()
            .aggregate(total=Coalesce(Sum("total_tokens"), 0))["total"]
        )
    if quota == "chat_requests_per_day":
        from chat.models import Message, MessageRole

        return Message.objects.filter(created_at__gte=since, role=MessageRole.USER).order_by().count()
    raise ValueError(f"{quota} is not a rate-like quota")


def size_quota_usage(*, quotas) -> dict[str, int]:
    """Current use of the size-like `quotas` (sources, chunks, upload_bytes, bots): one query in all."""
    from django.db import connection

    from bots.models import BotProfile
    from sources.models import Source, SourceType

    quote = connection.ops.quote_name
    sources, bots = quote(Source._meta.db_table), quote(BotProfile._meta.db_table)
    columns = {
        "sources": "count(*)",
        "chunks": "coalesce(sum(chunk_count), 0)",
        # file_size is written by the upload service; anything else in a config is not counted
        "upload_bytes": "coalesce(sum(CASE WHEN source_type = %s AND (config ->> 'file_size') ~ '^[0-9]{1,18}$' "
        "THEN (config ->> 'file_size')::bigint END), 0)",
        "bots": f"(SELECT count(*) FROM {bots} WHERE is_active)",
    }
    wanted = [name for name in columns if name in set(quotas)]
    if not wanted:
        return {}
    # count(*) keeps this an aggregate: exactly one row, even with no active source
    selected = ["sources", *(name for name in wanted if name != "sources")]
    params = [SourceType.UPLOAD] if "upload_bytes" in wanted else []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns[name] for name in selected)} FROM {sources} WHERE is_active", params)
        row = dict(zip(selected, cursor.fetchone(), strict=True))
    return {name: int(row[name] or 0) for name in wanted}


def quota_usage(*, tenant) -> dict[str, dict]:
    """{quota: {"used", "limit"}} for every quota of the tenant's plan (limit None = unlimited), for
    GET /v1/tenants/me and the console. One query for the size-like quotas; a limited rate-like quota comes from
    its cache counter (one aggregate query when not cached), an unlimited one (not counted) from the database."""
    from usage import plans
    from usage.services import rate_quota_used

    limits = plans.plan_limits(tenant)
    used = size_quota_usage(quotas=plans.SIZE_QUOTAS)
    now = timezone.now()
    for quota in plans.RATE_QUOTAS:
        if limits[quota] is None:
            used[quota] = rate_quota_seed(quota=quota, since=plans.period_start(plans.QUOTAS[quota].period, now))
        else:
            used[quota] = rate_quota_used(tenant, quota, now)
    return {quota: {"used": used[quota], "limit": limits[quota]} for quota in plans.QUOTAS}
