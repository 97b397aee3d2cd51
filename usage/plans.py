"""Plans and their quotas (settings.PLANS), and the periods rate-like quotas are counted over.

A tenant's plan is `Tenant.plan`. Every quota is a non-negative integer or None (unlimited):

| quota                   | counts                                                        | over it |
|-------------------------|---------------------------------------------------------------|---------|
| `tokens_per_month`      | LLM tokens (chat answers and titles) this calendar month, UTC | 429     |
| `chat_requests_per_day` | chat requests (user messages) this calendar day, UTC          | 429     |
| `sources`               | active sources (parents and children)                          | 403     |
| `chunks`                | stored chunks of active sources                                | 403     |
| `upload_bytes`          | bytes of the active uploaded files                             | 403     |
| `bots`                  | active bot profiles                                            | 403     |

Embedding tokens are not in `tokens_per_month`: ingestion is bounded by `chunks` and `upload_bytes`.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Quota:
    name: str
    label: str  # "… per day" is added from `period`
    period: str | None  # "day" or "month" for rate-like quotas; None for size-like ones
    status_code: int


QUOTAS = {
    quota.name: quota
    for quota in (
        Quota("tokens_per_month", "LLM tokens", "month", 429),
        Quota("chat_requests_per_day", "chat requests", "day", 429),
        Quota("sources", "sources", None, 403),
        Quota("chunks", "stored chunks", None, 403),
        Quota("upload_bytes", "bytes of uploaded files", None, 403),
        Quota("bots", "bots", None, 403),
    )
}
RATE_QUOTAS = tuple(name for name, quota in QUOTAS.items() if quota.period)
SIZE_QUOTAS = tuple(name for name, quota in QUOTAS.items() if not quota.period)


def plan_name(tenant) -> str:
    """The tenant's plan if it is defined, else QUOTA_FALLBACK_PLAN (a renamed or mistyped plan)."""
    plan = getattr(tenant, "plan", None) or ""
    return plan if plan in settings.PLANS else settings.QUOTA_FALLBACK_PLAN


def plan_limits(tenant) -> dict[str, int | None]:
    limits = settings.PLANS[plan_name(tenant)]
    return {name: limits.get(name) for name in QUOTAS}


def period_start(period: str, now: dt.datetime) -> dt.datetime:
    now = now.astimezone(dt.UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def period_end(period: str, now: dt.datetime) -> dt.datetime:
    start = period_start(period, now)
    if period == "day":
        return start + dt.timedelta(days=1)
    return (start + dt.timedelta(days=32)).replace(day=1)


def period_key(period: str | None, now: dt.datetime) -> str:
    """ "2026-12-01" (day) or "2026-12" (month). Size-like quotas notify once per calendar month."""
    start = period_start(period or "month", now)
    return start.strftime("%Y-%m-%d") if period == "day" else start.strftime("%Y-%m")
