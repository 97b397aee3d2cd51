"""The sources' Celery tasks, queued after commit by their registered names.

sources.tasks imports the services (a task is a thin wrapper around one service), so a service cannot import
the tasks module back without an import cycle; it names the task instead. The name is the contract anyway:
messages already in a broker carry it, so it never changes. SourcesConfig.ready() imports sources.tasks, so
the names are registered in every process (web, worker, beat, commands).
"""

from collections.abc import Callable
from typing import Any

from minirag.celery import app
from minirag.tenancy import enqueue_on_commit

INGEST_SOURCE = "sources.tasks.ingest_source"
CRAWL_SOURCE = "sources.tasks.crawl_source"
PURGE_SOURCE_VECTORS = "sources.tasks.purge_source_vectors"


def enqueue(task_name: str, *, on_error: Callable[[], Any] | None = None, **kwargs) -> None:
    """Queue the task `task_name(**kwargs)` after the current transaction commits, in the current tenant schema
    (minirag.tenancy.enqueue_on_commit); `on_error` runs (in that schema) if the broker refuses it."""
    enqueue_on_commit(app.tasks[task_name], on_error=on_error, **kwargs)
