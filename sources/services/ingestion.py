"""Queueing ingestion — the request side. The run itself is `sources.pipeline.ingest.run_ingestion`, which the
`ingest_source` task calls in the worker (through `source_run_ingestion`).

A crawl source (a top-level URL source with `config.crawl`) queues a crawl instead (`crawl_source`, run by
sources.crawl): it fetches the site and keeps one child per page, queueing the ingestion of new and changed ones.

A queued run gets a fresh `ingest_token` (a run still holding an older one is superseded) and stage `queued`;
the task is sent once the surrounding transaction commits, in the tenant schema current now. If the broker
refuses it, the source fails with a message saying so (it never stays `queued` with nobody to run it).
"""

import uuid

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from minirag.errors import Conflict
from minirag.tenancy import tenant_context, tenants_all
from sources.models import IngestStage, Source, SourceStatus
from sources.pipeline.ingest import Outcome, run_ingestion
from sources.pipeline.runs import fail_dead_run, fail_source
from sources.selectors import dead_runs, has_live_run
from sources.services.queueing import CRAWL_SOURCE, INGEST_SOURCE, enqueue

BROKER_DOWN = "Could not queue the ingestion (task broker unavailable); try again"


def _queue(source: Source, trigger: str) -> None:
    token = uuid.uuid4()
    Source.objects.filter(pk=source.pk).update(
        ingest_token=token, stage=IngestStage.QUEUED, progress=0, updated_at=timezone.now()
    )
    source.ingest_token, source.stage, source.progress = token, IngestStage.QUEUED, 0

    enqueue(
        CRAWL_SOURCE if source.is_crawl else INGEST_SOURCE,
        on_error=lambda: fail_source(source, str(token), BROKER_DOWN),
        source_id=str(source.pk), token=str(token), trigger=trigger,
    )  # fmt: skip


def source_ingest(*, source: Source, trigger: str = "manual") -> Source:
    """Queue ingestion of `source` (or, for a parent with children, of its children; for a crawl source, a
    crawl of its site, which queues its new and changed pages).

    Used by the API, the admin, `manage.py ingest` and the refresh scheduler. Raises Conflict when the source
    is inactive or is being processed by a live run (one whose lease lapsed is dead and is superseded).
    The task runs after the current transaction commits.
    """
    if not source.is_active:
        raise Conflict("Source is inactive; reactivate it before ingesting")
    if has_live_run(source):
        raise Conflict("Source is already being processed")
    has_children = source.parent_id is None and Source.objects.filter(parent=source, is_active=True).exists()
    if has_children and not source.is_crawl:
        source_ingest_children(parent=source, trigger=trigger)
        return source
    _queue(source, trigger)
    return source


def source_ingest_children(*, parent: Source, trigger: str = "manual") -> int:
    """Queue every active child without a live run. Returns how many were queued."""
    children = list(
        Source.objects.filter(parent=parent, is_active=True)
        .exclude(Q(status=SourceStatus.PROCESSING) & ~dead_runs())
        .order_by("created_at", "id")
    )
    for child in children:
        _queue(child, trigger)
    return len(children)


def source_reindex_bot(*, bot_profile_id) -> int:
    """Queue re-ingestion of the bot's indexed sources (its embedding model or language changed: new vectors,
    new index terms). Returns how many were queued."""
    sources = list(
        Source.objects.filter(
            bot_profile_id=bot_profile_id, is_active=True, status__in=[SourceStatus.READY, SourceStatus.ERROR]
        )
        .exclude(children__is_active=True)
        .distinct()
    )
    for source in sources:
        _queue(source, "reindex")
    return len(sources)


def on_bot_index_config_changed(schema_name: str, event: str, payload: dict) -> None:
    """minirag.events subscriber (`bot.index_config_changed`, after the bot's change committed): re-index."""
    tenant = tenants_all().filter(schema_name=schema_name).first()
    if tenant is not None:
        with tenant_context(tenant):
            source_reindex_bot(bot_profile_id=payload["bot_profile_id"])


def source_run_ingestion(*, source_id: str, token: str | None = None, trigger: str = "manual") -> Outcome:
    """The worker side of `source_ingest`: run it now, in this process (see sources.pipeline.ingest)."""
    return run_ingestion(source_id=source_id, token=token, trigger=trigger)


def source_fail_stuck() -> int:
    """Fail sources whose ingestion run is dead (current schema): its lease lapsed (the worker was killed or
    lost) or it ran past INGEST_STUCK_AFTER_SECONDS.

    Each gets a clear error message and emits `source.failed`; the dead run's partial rows and index entries
    are removed in the same transaction, and the source can be re-ingested at once. A late finish of the
    dead run is ignored (its token no longer matches).
    """
    lease = settings.INGEST_LEASE_SECONDS
    message = (
        f"Ingestion stopped: the worker running it stopped responding for over {lease} seconds (it may have "
        "crashed, been killed or run out of memory), or it ran too long. Re-ingest the source to try again."
    )
    stuck = Source.objects.filter(status=SourceStatus.PROCESSING).filter(dead_runs())
    return sum(1 for source in stuck if fail_dead_run(source, message))
