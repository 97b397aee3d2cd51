"""Cross-schema reads for the operator console.

Tenant data lives in one schema per tenant, so a page about many tenants would naively cost one query per
tenant per column. These selectors build ONE `UNION ALL` statement over the schemas they are given (each
branch reads that schema's tables by their qualified name), so the tenants list costs one extra query per
page however many tenants and columns it shows, and the failed-ingestions view one query in all.
Schema names are quoted identifiers taken from the Tenant table, never from the request.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from tenants.models import Tenant

TOKENS_WINDOW = timedelta(days=30)
STATUSES = ("pending", "processing", "ready", "error")


def _table(schema: str, model_label: str) -> str:
    from django.apps import apps

    model = apps.get_model(model_label)
    return f"{connection.ops.quote_name(schema)}.{connection.ops.quote_name(model._meta.db_table)}"


@dataclass
class TenantStats:
    bots: int = 0
    sources: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    chunks: int = 0
    tokens_30d: int = 0

    @property
    def sources_total(self) -> int:
        return sum(self.sources.values())


STATS_CACHE_SECONDS = 30
_CACHE_PREFIX = "console:tenant-stats:"


def tenant_stats_cached(schema_names: list[str]) -> dict[str, TenantStats]:
    """`tenant_stats`, served from the cache for up to STATS_CACHE_SECONDS; the misses are computed together
    in one query. For the tenants list, where repeated loads and paging are common."""
    from django.core.cache import cache

    keys = {f"{_CACHE_PREFIX}{name}": name for name in schema_names}
    cached = {keys[key]: value for key, value in cache.get_many(list(keys)).items()}
    missing = [name for name in schema_names if name not in cached]
    fresh = tenant_stats(missing)
    if fresh:
        cache.set_many({f"{_CACHE_PREFIX}{name}": value for name, value in fresh.items()}, STATS_CACHE_SECONDS)
    return {**cached, **fresh}


def tenant_stats(schema_names: list[str], *, now: datetime | None = None) -> dict[str, TenantStats]:
    """Bots, active sources by status, chunks and tokens used in the last 30 days, per schema, in one query."""
    schema_names = [name for name in dict.fromkeys(schema_names) if name and name != "public"]
    if not schema_names:
        return {}
    since = (now or timezone.now()) - TOKENS_WINDOW
    branches, params = [], []
    status_columns = ", ".join(f"count(*) FILTER (WHERE status = '{status}')" for status in STATUSES)
    for schema in schema_names:
        branches.append(
            "SELECT %s::text, "
            f"(SELECT count(*) FROM {_table(schema, 'bots.BotProfile')} WHERE is_active), "
            f"s.*, "
            f"(SELECT coalesce(sum(total_tokens), 0) FROM {_table(schema, 'usage.UsageEvent')} "
            "WHERE created_at >= %s) "
            f"FROM (SELECT {status_columns}, coalesce(sum(chunk_count), 0) "
            f"FROM {_table(schema, 'sources.Source')} WHERE is_active) AS s"
        )
        params.extend([schema, since])
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = cursor.fetchall()
    stats: dict[str, TenantStats] = {}
    for schema, bots, *by_status, chunks, tokens in rows:
        stats[schema] = TenantStats(
            bots=bots, sources=dict(zip(STATUSES, by_status, strict=True)), chunks=int(chunks), tokens_30d=int(tokens)
        )
    return stats


@dataclass(frozen=True)
class ProblemSource:
    tenant: Tenant
    source_id: str
    name: str
    source_type: str
    status: str
    stage: str | None
    error: str
    since: datetime | None
    problem: str  # "failed", "stuck processing", "stuck in queue"


def failed_and_stuck_sources(*, limit: int = 500, now: datetime | None = None) -> list[ProblemSource]:
    """Sources of every tenant that failed, or hang in `processing` or in the queue, newest problem first.

    Stuck = processing with a lapsed lease (its worker died; the sweeper fails it shortly) or for longer than
    INGEST_STUCK_AFTER_SECONDS, or queued for longer than that. One query for all tenants.
    """
    tenants = {tenant.schema_name: tenant for tenant in Tenant.objects.exclude(schema_name="public")}
    if not tenants:
        return []
    stuck_before = (now or timezone.now()) - timedelta(seconds=settings.INGEST_STUCK_AFTER_SECONDS)
    lease_before = (now or timezone.now()) - timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    branches, params = [], []
    for schema in tenants:
        branches.append(
            "SELECT %s::text, id::text, name, source_type, status, stage, coalesce(error_message, ''), "
            "CASE WHEN status = 'processing' THEN processing_started_at ELSE updated_at END AS since, "
            "CASE WHEN status = 'error' THEN 'failed' WHEN status = 'processing' THEN 'stuck processing' "
            "ELSE 'stuck in queue' END "
            f"FROM {_table(schema, 'sources.Source')} WHERE is_active AND ("
            "status = 'error' "
            "OR (status = 'processing' AND (processing_started_at < %s "
            "OR coalesce(heartbeat_at, processing_started_at) < %s)) "
            "OR (status <> 'processing' AND stage = 'queued' AND updated_at < %s))"
        )
        params.extend([schema, stuck_before, lease_before, stuck_before])
    sql = f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS problems ORDER BY since DESC NULLS LAST LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        rows = cursor.fetchall()
    return [
        ProblemSource(tenants[row[0]], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8]) for row in rows
    ]
