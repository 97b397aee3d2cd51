"""Usage statistics (`/v1/stats/usage…`, cost, pricing) and quota use, each computed with a few aggregate queries.

Costs are the USD amounts stored with every UsageEvent when it was recorded (LiteLLM's cost map at that
time), so a later price change does not rewrite history. Windows (`days`) end now and start `days` × 24 h ago.

usage reads only its own tables. Rows per bot carry the bot's id; its name is added by the bots app
(bots.stats.with_bot_names). What other apps store (sources, chunks, bots, chat requests) is counted by counters
those apps register from their AppConfig.ready() (`register_size_counter`, `register_rate_counter`).
"""

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from minirag import counters
from minirag.integrations.pricing import (
    DEFAULT_COMPLETION_COST_PER_1M,
    DEFAULT_PROMPT_COST_PER_1M,
    known_models,
    price_per_1m,
)
from usage import plans
from usage.models import UsageEvent, UsageKind

DAYS_MIN = 1
DAYS_MAX = 3650
COUNTER_TTL = {"day": 2 * 86400, "month": 32 * 86400}  # a rate counter outlives its period by a day


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


# --- Overview and usage ---------------------------------------------------------------------------------


def token_totals() -> dict:
    """All-time prompt, completion and total tokens (the overview's share of usage): one query."""
    tokens = UsageEvent.objects.order_by().aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0), completion=Coalesce(Sum("completion_tokens"), 0)
    )
    return {
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
    """Tokens, calls and cost per (bot, model), largest total first (bots.stats.with_bot_names names them)."""
    rows = (
        _events(days)
        .values("bot_profile_id", "model")
        .annotate(**_token_sums(), cost=Coalesce(Sum("cost_usd"), Decimal(0)))
        .order_by("-total_tokens", "model")
    )
    return [
        {
            "bot_profile_id": str(row["bot_profile_id"]) if row["bot_profile_id"] else None,
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
    """Cost over the window, the average per day with usage, and that average projected over 30 days; `by_bot`
    rows carry bot ids (bots.stats.with_bot_names names them)."""
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


# --- Quotas ----------------------------------------------------------------------------------------------


# Counters of what other apps store, registered from their AppConfig.ready(): {quota: count function}.
_size_counters: dict[str, Callable[[list[str]], dict[str, int]]] = {}
_rate_counters: dict[str, Callable[[dt.datetime], int]] = {}


def register_size_counter(quotas: Iterable[str], count: Callable[[list[str]], dict[str, int]]) -> None:
    """`count(quotas)` returns the current use of those size-like quotas ({quota: int}), in one query."""
    for quota in quotas:
        _size_counters[quota] = count


def register_rate_counter(quota: str, count_since: Callable[[dt.datetime], int]) -> None:
    """`count_since(since)` returns the database's count for a rate-like quota since `since`."""
    _rate_counters[quota] = count_since


def _counter(registry: dict, quota: str):
    try:
        return registry[quota]
    except KeyError:
        raise ImproperlyConfigured(f"No counter is registered for the quota {quota!r}") from None


def rate_quota_seed(*, quota: str, since: dt.datetime) -> int:
    """The database's count for a rate-like quota since `since` (seeds its cache counter): one aggregate query."""
    if quota == "tokens_per_month":
        return (
            UsageEvent.objects.filter(created_at__gte=since, kind__in=(UsageKind.CHAT, UsageKind.TITLE))
            .order_by()
            .aggregate(total=Coalesce(Sum("total_tokens"), 0))["total"]
        )
    if quota not in plans.RATE_QUOTAS:
        raise ValueError(f"{quota} is not a rate-like quota")
    return _counter(_rate_counters, quota)(since)


def size_quota_usage(*, quotas) -> dict[str, int]:
    """Current use of the size-like `quotas` (sources, chunks, upload_bytes, bots): one query per app counting."""
    by_counter: dict[Callable, list[str]] = {}
    for quota in quotas:
        by_counter.setdefault(_counter(_size_counters, quota), []).append(quota)
    used: dict[str, int] = {}
    for count, counted in by_counter.items():
        found = count(counted)
        used.update({quota: int(found[quota]) for quota in counted})
    return used


def counter_key(tenant, quota: str, now) -> str:
    return f"quota:{tenant.id}:{quota}:{plans.period_key(plans.QUOTAS[quota].period, now)}"


def rate_quota_used(tenant, quota: str, now=None) -> int:
    """This period's use of a rate-like quota: the shared counter, seeded from the database when missing."""
    now = now or timezone.now()
    period = plans.QUOTAS[quota].period
    seed = lambda: rate_quota_seed(quota=quota, since=plans.period_start(period, now))  # noqa: E731
    try:
        return counters.get_or_seed(counter_key(tenant, quota, now), seed, timeout=COUNTER_TTL[period])
    except counters.CacheUnavailable:
        return seed()


def quota_usage(*, tenant) -> dict[str, dict]:
    """{quota: {"used", "limit"}} for every quota of the tenant's plan (limit None = unlimited), for
    GET /v1/tenants/me and the console. One query per app for the size-like quotas; a limited rate-like quota comes
    from its cache counter (one aggregate query when not cached), an unlimited one (not counted) from the database."""
    limits = plans.plan_limits(tenant)
    used = size_quota_usage(quotas=plans.SIZE_QUOTAS)
    now = timezone.now()
    for quota in plans.RATE_QUOTAS:
        if limits[quota] is None:
            used[quota] = rate_quota_seed(quota=quota, since=plans.period_start(plans.QUOTAS[quota].period, now))
        else:
            used[quota] = rate_quota_used(tenant, quota, now)
    return {quota: {"used": used[quota], "limit": limits[quota]} for quota in plans.QUOTAS}
