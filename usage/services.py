"""Recording usage (every LLM or embedding call goes through `usage_record`) and enforcing plan quotas.

Quota checks are cheap by design: rate-like quotas (tokens per month, chat requests per day) are counters in
the shared cache (minirag.counters; seeded from one aggregate query when missing, e.g. at a new period or after
a Redis restart), and size-like quotas (sources, chunks, upload bytes, bots) are read with one aggregate query
(per app that stores them: the counters those apps register, see usage.selectors) when something is created. A
plan without a limit costs nothing. Reaching 80 % and 100 % of a quota emits
`usage.threshold` once per quota, period and threshold (recorded as QuotaNotice).
"""

import logging
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from minirag import counters, events
from minirag.errors import QuotaExceeded
from minirag.integrations.pricing import cost_usd
from minirag.tenancy import tenant_context
from tenants.models import Tenant
from usage import plans, selectors
from usage.models import QuotaNotice, UsageEvent, UsageKind
from usage.selectors import COUNTER_TTL, counter_key, rate_quota_used

logger = logging.getLogger("minirag.usage")

TOKEN_KINDS = (UsageKind.CHAT, UsageKind.TITLE)


def usage_record(
    *,
    kind: str = UsageKind.CHAT,
    model: str,
    prompt_tokens: int,
    completion_tokens: int = 0,
    bot_profile_id: UUID | None = None,
    chat_id: UUID | None = None,
    message_id: UUID | None = None,
    source_id: UUID | None = None,
    latency_ms: int | None = None,
    time_to_first_token_ms: int | None = None,
    stream_duration_ms: int | None = None,
    is_stream: bool = False,
) -> UsageEvent:
    """Store one call's tokens and its USD cost (LiteLLM cost map) in the current tenant schema.

    Chat and title tokens also count toward the tenant's `tokens_per_month` once the transaction commits.
    """
    event = UsageEvent.objects.create(
        kind=kind,
        model=model,
        bot_profile_id=bot_profile_id,
        chat_id=chat_id,
        message_id=message_id,
        source_id=source_id,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        cost_usd=cost_usd(model, prompt_tokens, completion_tokens),
        latency_ms=latency_ms,
        time_to_first_token_ms=time_to_first_token_ms,
        stream_duration_ms=stream_duration_ms,
        is_stream=is_stream,
    )
    tenant = _current_tenant()
    if kind in TOKEN_KINDS and event.total_tokens and tenant is not None:
        if plans.plan_limits(tenant)["tokens_per_month"] is not None:
            transaction.on_commit(lambda: _count_tokens(tenant, event.total_tokens, event.created_at))
    return event


# --- quotas ------------------------------------------------------------------------------------------------


def _current_tenant():
    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public" or not hasattr(tenant, "plan"):
        return None
    return tenant


def _exceeded(tenant, quota: str, limit: int, extra: str, *, resets=None) -> QuotaExceeded:
    spec = plans.QUOTAS[quota]
    per = f" per {spec.period}" if spec.period else ""
    detail = f"Quota exceeded: {quota} (limit {limit} {spec.label}{per} on plan '{plans.plan_name(tenant)}'); {extra}"
    retry_after = int((resets - timezone.now()).total_seconds()) + 1 if resets is not None else None
    return QuotaExceeded(detail, quota=quota, status_code=spec.status_code, retry_after=retry_after)


def quota_admit_chat(*, tenant) -> None:
    """Admit one chat request for `tenant`, or raise QuotaExceeded (429) naming the quota.

    Refused when this month's LLM tokens have reached `tokens_per_month`, or when the request would pass
    `chat_requests_per_day` (refused requests are not counted). Costs no SQL query while the counters are cached.
    """
    limits = plans.plan_limits(tenant)
    now = timezone.now()
    token_limit = limits["tokens_per_month"]
    if token_limit is not None and rate_quota_used(tenant, "tokens_per_month", now) >= token_limit:
        resets = plans.period_end("month", now)
        stamp = resets.isoformat().replace("+00:00", "Z")
        raise _exceeded(tenant, "tokens_per_month", token_limit, f"resets at {stamp}", resets=resets)
    request_limit = limits["chat_requests_per_day"]
    if request_limit is None:
        return
    key = counter_key(tenant, "chat_requests_per_day", now)
    since = plans.period_start("day", now)
    seed = lambda: selectors.rate_quota_seed(quota="chat_requests_per_day", since=since)  # noqa: E731
    try:
        counters.get_or_seed(key, seed, timeout=COUNTER_TTL["day"])
        count = counters.incr(key, timeout=COUNTER_TTL["day"])
    except counters.CacheUnavailable:
        count = seed() + 1
    if count > request_limit:
        counters.incr_existing(key, -1)
        resets = plans.period_end("day", now)
        stamp = resets.isoformat().replace("+00:00", "Z")
        raise _exceeded(tenant, "chat_requests_per_day", request_limit, f"resets at {stamp}", resets=resets)
    _notify_crossings(tenant, "chat_requests_per_day", before=count - 1, after=count, limit=request_limit, now=now)


def quota_check(*, adding: dict[str, int], tenant=None) -> None:
    """Refuse (QuotaExceeded, 403) a write that would take a size-like quota past the plan's limit.

    `adding` maps quotas to what the write adds: {"sources": 1, "chunks": 1, "upload_bytes": size, "bots": 1}.
    `chunks` are made by ingestion, so {"chunks": 1} means "the new source needs room for one chunk". The
    tenant defaults to the connection's. Reaching 80 % / 100 % of `sources`, `bots` or `upload_bytes` emits
    `usage.threshold` once the transaction commits (chunk thresholds are checked after each ingestion).
    One aggregate query per app counting a checked quota that has a limit; none otherwise.
    """
    tenant = tenant or _current_tenant()
    if tenant is None:
        return
    limits = plans.plan_limits(tenant)
    checked = [quota for quota in adding if limits.get(quota) is not None]
    if not checked:
        return
    used = selectors.size_quota_usage(quotas=checked)
    now = timezone.now()
    for quota in checked:
        limit, after = limits[quota], used[quota] + adding[quota]
        if after > limit:
            raise _exceeded(tenant, quota, limit, f"{used[quota]} in use")
    for quota in checked:
        if quota != "chunks":
            after = used[quota] + adding[quota]
            _notify_crossings(tenant, quota, before=used[quota], after=after, limit=limits[quota], now=now)


def quota_check_chunk_thresholds(*, tenant=None) -> None:
    """After an ingestion: emit `usage.threshold` for `chunks` if 80 % / 100 % are reached (once a month each)."""
    tenant = tenant or _current_tenant()
    if tenant is None:
        return
    limit = plans.plan_limits(tenant)["chunks"]
    if not limit:
        return
    used = selectors.size_quota_usage(quotas=["chunks"])["chunks"]
    _notify_crossings(tenant, "chunks", before=0, after=used, limit=limit, now=timezone.now())


def _count_tokens(tenant, tokens: int, when) -> None:
    """After commit: add a call's tokens to this month's counter and notify crossed thresholds."""
    try:
        with tenant_context(tenant):
            limit = plans.plan_limits(tenant)["tokens_per_month"]
            key = counter_key(tenant, "tokens_per_month", when)
            after = counters.incr_existing(key, tokens)
            # Not cached (the chat admission seeds it, so only after an eviction): the seed already includes this
            # committed call — and any other committed one whose callback has not run yet, counted twice then.
            if after is None:
                after = rate_quota_used(tenant, "tokens_per_month", when)
            _notify_crossings(tenant, "tokens_per_month", before=after - tokens, after=after, limit=limit, now=when)
    except Exception:  # counting must never break the answer already given
        logger.exception("could not count %s tokens for tenant %s", tokens, tenant.id)


def _notify_crossings(tenant, quota: str, *, before: int, after: int, limit: int | None, now) -> None:
    if not limit:
        return
    for threshold in quota_thresholds():
        mark = limit * threshold / 100
        if before < mark <= after:
            _notice_once(tenant, quota, threshold=threshold, used=after, limit=limit, now=now)


def quota_thresholds() -> tuple[int, ...]:
    return tuple(settings.QUOTA_THRESHOLDS)


def _notice_once(tenant, quota: str, *, threshold: int, used: int, limit: int, now) -> None:
    period = plans.period_key(plans.QUOTAS[quota].period, now)
    plan = plans.plan_name(tenant)
    try:
        with transaction.atomic():
            _, created = QuotaNotice.objects.get_or_create(
                quota=quota,
                period=period,
                threshold=threshold,
                defaults={"used": used, "limit": limit, "plan": plan},
            )
    except IntegrityError:  # a concurrent request recorded it first
        return
    if not created:
        return
    logger.info("tenant %s reached %s%% of %s (%s of %s)", tenant.id, threshold, quota, used, limit)
    events.emit(
        events.USAGE_THRESHOLD,
        {
            "quota": quota,
            "threshold": threshold,
            "used": used,
            "limit": limit,
            "plan": plan,
            "period": period,
        },
    )


def on_event(schema_name: str, event: str, payload: dict) -> None:
    """minirag.events subscriber: after an ingestion, check the chunk thresholds in that tenant's schema."""
    if event != events.SOURCE_INGESTED:
        return
    current = _current_tenant()
    tenant = current if current is not None and current.schema_name == schema_name else None
    tenant = tenant or Tenant.objects.filter(schema_name=schema_name).first()
    if tenant is None or plans.plan_limits(tenant)["chunks"] is None:
        return
    with tenant_context(tenant):
        quota_check_chunk_thresholds(tenant=tenant)
