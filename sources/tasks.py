"""Celery tasks (queue `ingest`). Thin: they take ids and call one service.

Tenant-aware through tenant-schemas-celery: a task runs in the schema that queued it. The sweeper is
started by beat in the public schema and visits every tenant itself.
"""

import logging

from django.conf import settings

from minirag.celery import app
from minirag.tenancy import tenant_context
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
    from sources.services import source_run_ingestion

    return source_run_ingestion(source_id=source_id, token=token, trigger=trigger).status


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
    from sources.services import source_purge_vectors

    source_purge_vectors(source_ids=source_ids, raise_errors=True)


@app.task(name="sources.tasks.sweep_stuck_sources", ignore_result=True)
def sweep_stuck_sources() -> int:
    """Fail sources stuck in `processing` in every tenant (see services.source_fail_stuck)."""
    from sources.services import source_fail_stuck
    from tenants.models import Tenant

    total = 0
    for tenant in Tenant.objects.exclude(schema_name="public").order_by("slug"):
        with tenant_context(tenant):
            failed = source_fail_stuck()
        if failed:
            logger.warning("failed %d stuck source(s) in %s", failed, tenant.slug)
        total += failed
    return total
