"""Scheduled refresh of sources (`refresh_schedule`: none / hourly / daily / weekly).

Celery beat runs `sources.refresh.refresh_due_sources` (sources.tasks) every REFRESH_CHECK_INTERVAL_SECONDS
(default 900). It fans out one `refresh_tenant_sources` task per active tenant, which runs in that tenant's
schema and starts an ingestion (`sources.services.source_ingest(trigger="schedule")`) for each due source.

Due = active, schedule hourly/daily/weekly, not processing, `last_refreshed_at` null or older than the
schedule's interval, and not backing off. A crawl source (`config.crawl`) is refreshed itself — a re-crawl
(sources.crawl), which re-ingests only the pages whose bytes changed — and its pages never on their own.
A refresh re-extracts; the pipeline skips chunking and embedding when the content hash is unchanged and then
only moves `last_refreshed_at`.

Back-off: a refresh that fails does not move `last_refreshed_at`, so without care it would be retried on
every tick. Every `source.failed` event records a failure in `RefreshState` and pushes the next scheduled
attempt to now + interval × 2^(failures−1), capped at MAX_BACKOFF; a `source.ingested` event clears it.
Manual ingestion is never blocked by the back-off.
"""

import logging
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from minirag import events
from minirag.errors import DomainError
from minirag.tenancy import tenant_context, tenants_all
from sources.models import RefreshState, Source, SourceStatus
from sources.services import source_ingest

logger = logging.getLogger("minirag.refresh")

INTERVALS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
}
MAX_BACKOFF = timedelta(days=7)
# At most this many ingestions are started per tenant per tick; the rest wait for the next tick.
MAX_REFRESHES_PER_TICK = 200
BEAT_ENTRY = "sources-refresh-due"


def backoff_after(failures: int, schedule: str | None) -> timedelta:
    """How long a source that failed `failures` times in a row waits before the scheduler tries again."""
    interval = INTERVALS.get(schedule or "", timedelta(hours=1))
    return min(interval * 2 ** max(0, failures - 1), MAX_BACKOFF)


def due_sources(*, now: datetime | None = None):
    """Sources of the current tenant schema that the scheduler should refresh now (oldest first)."""
    now = now or timezone.now()
    unscheduled = Q(refresh_schedule__isnull=True) | Q(refresh_schedule="none")
    overdue = Q()
    for schedule, interval in INTERVALS.items():
        # A child without its own schedule follows its parent's (batch imports set it on the parent).
        scheduled = Q(refresh_schedule=schedule) | (unscheduled & Q(parent__refresh_schedule=schedule))
        overdue |= scheduled & (Q(last_refreshed_at__isnull=True) | Q(last_refreshed_at__lte=now - interval))
    backing_off = RefreshState.objects.filter(source_id=OuterRef("pk"), next_attempt_at__gt=now)
    # A parent with active children has no content of its own: its children are refreshed instead; a crawl
    # parent is refreshed by crawling again, which takes care of its children.
    has_children = Source.objects.filter(parent=OuterRef("pk"), is_active=True)
    crawl = Q(config__has_key="crawl", parent__isnull=True)
    return (
        Source.objects.filter(overdue, is_active=True)
        .exclude(status=SourceStatus.PROCESSING)
        .exclude(Exists(backing_off))
        .exclude(Exists(has_children) & ~crawl)
        .exclude(parent__config__has_key="crawl")
        .order_by(F("last_refreshed_at").asc(nulls_first=True), "created_at")
    )


def refresh_tenant(*, now: datetime | None = None) -> list[str]:
    """Start a refresh for every due source of the current tenant schema; return the ids started."""
    started: list[str] = []
    for source in due_sources(now=now)[:MAX_REFRESHES_PER_TICK]:
        try:
            source_ingest(source=source, trigger="schedule")
        except DomainError as error:  # e.g. it started processing since the selection
            logger.info("refresh of source %s not started: %s", source.pk, error)
            continue
        started.append(str(source.pk))
    if started:
        logger.info("refresh started for %d source(s)", len(started))
    return started


def record_outcome(schema_name: str, event: str, payload: dict) -> None:
    """minirag.events subscriber: count consecutive failures per source, clear them on success."""
    source_id = payload.get("source_id")
    if not source_id or event not in (events.SOURCE_FAILED, events.SOURCE_INGESTED):
        return
    tenant = tenants_all().filter(schema_name=schema_name).first()
    if tenant is None:
        return
    with tenant_context(tenant):
        if event == events.SOURCE_INGESTED:
            RefreshState.objects.filter(source_id=source_id).delete()
            return
        row = Source.objects.filter(pk=source_id).values_list("refresh_schedule", "parent__refresh_schedule").first()
        schedule = next((value for value in row or () if value in INTERVALS), None)
        state, _ = RefreshState.objects.get_or_create(source_id=source_id)
        state.consecutive_failures += 1
        state.next_attempt_at = timezone.now() + backoff_after(state.consecutive_failures, schedule)
        state.last_error = str(payload.get("error") or "")[:500]
        state.save()


def prune_states() -> int:
    """Drop back-off rows of sources that no longer exist."""
    deleted, _ = RefreshState.objects.exclude(Exists(Source.objects.filter(pk=OuterRef("source_id")))).delete()
    return deleted
