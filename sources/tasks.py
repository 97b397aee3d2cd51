"""Celery tasks of the sources app. Thin: they take ids and call one service.

Tenant-aware through tenant-schemas-celery: a task runs in the schema that queued it. The beat entries (the
stuck-source sweeper, the refresh scheduler; registered in SourcesConfig.ready) start in the public schema and
visit every tenant themselves. Task names never change: messages already in a broker carry them (the refresh
tasks keep the names they had in sources.refresh).
"""

import logging

from django.conf import settings

from minirag.celery import app
from minirag.tenancy import enqueue_on_commit, for_each_tenant
from sources import crawl, refresh, services
from sources.index import KnowledgeIndexError

logger = logging.getLogger("minirag.sources.tasks")


@app.task(
    name="sources.tasks.ingest_source",
    acks_late=True,
    # A worker killed mid-task (OOM, hard limit) must not re-queue the message: a file that kills workers
    # would loop forever. The source stays "processing" and the sweeper fails it with a clear message.
    reject_on_worker_lost=False,
    soft_time_limit=settings.INGEST_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.INGEST_HARD_TIME_LIMIT_SECONDS,
    ignore_result=True,
)
def ingest_source(source_id: str, token: str | None = None, trigger: str = "manual") -> str:
    return services.source_run_ingestion(source_id=source_id, token=token, trigger=trigger).status


@app.task(
    name="sources.tasks.crawl_source",
    acks_late=True,
    reject_on_worker_lost=False,  # as ingest_source: a crawl that kills workers must not loop
    # The crawl stops itself at CRAWL_TIME_LIMIT_SECONDS and keeps what it found; these are the backstops.
    soft_time_limit=settings.CRAWL_TIME_LIMIT_SECONDS + 300,
    time_limit=settings.CRAWL_TIME_LIMIT_SECONDS + 400,
    ignore_result=True,
)
def crawl_source(source_id: str, token: str | None = None, trigger: str = "manual") -> str:
    """Crawl a crawl source's site into its children (sources.crawl; queued by services.source_ingest)."""
    return crawl.run_crawl(source_id=source_id, token=token, trigger=trigger)


@app.task(
    name="sources.tasks.purge_source_vectors",
    acks_late=True,
    autoretry_for=(KnowledgeIndexError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=12,
    ignore_result=True,
)
def purge_source_vectors(source_ids: list[str]) -> None:
    services.source_purge_vectors(source_ids=source_ids, raise_errors=True)


@app.task(name="sources.tasks.sweep_stuck_sources", ignore_result=True)
def sweep_stuck_sources() -> int:
    """Fail sources stuck in `processing` in every tenant (see services.source_fail_stuck)."""
    total = 0
    for tenant, failed in for_each_tenant(lambda tenant: services.source_fail_stuck()):
        if failed:
            logger.warning("failed %d stuck source(s) in %s", failed, tenant.slug)
        total += failed
    return total


@app.task(name="sources.refresh.refresh_due_sources", ignore_result=True)
def refresh_due_sources() -> int:
    """The beat entry point (public schema): one `refresh_tenant_sources` task per active tenant."""
    queued = for_each_tenant(lambda tenant: enqueue_on_commit(refresh_tenant_sources), active_only=True)
    return sum(1 for _ in queued)


@app.task(name="sources.refresh.refresh_tenant_sources", ignore_result=True)
def refresh_tenant_sources() -> int:
    """Start the due refreshes of one tenant (runs in its schema: tenant-schemas-celery header)."""
    refresh.prune_states()
    return len(refresh.refresh_tenant())
