"""Writes and workflows for sources, by concern (a services module grown into a package, as HackSoft's
Django Styleguide suggests); every public name is importable from `sources.services`.

- checks.py     input checks the writes share: bot, parent, payload, URL, upload type and size, external_id
- create.py     source_create, source_create_upload, source_batch_create
- upsert.py     source_upsert, source_upsert_upload (by external_id)
- update.py     source_update, source_delete (soft), source_purge_vectors
- ingestion.py  source_ingest, source_ingest_children, source_reindex_bot (queue a run after commit);
                source_run_ingestion (the run, in the worker: sources.pipeline.ingest), source_fail_stuck
- queueing.py   the sources' tasks queued after commit by their registered names (sources.tasks imports the
                services, never the reverse)

Side effects are stated per function. Ingestion never runs in the request: `source_ingest` queues the
`ingest_source` task (on the `ingest` queue) once the surrounding transaction commits.
"""

from sources.services.checks import check_upload
from sources.services.create import BatchResult, source_batch_create, source_create, source_create_upload
from sources.services.ingestion import (
    source_fail_stuck,
    source_ingest,
    source_ingest_children,
    source_reindex_bot,
    source_run_ingestion,
)
from sources.services.update import source_delete, source_purge_vectors, source_update
from sources.services.upsert import Upserted, source_upsert, source_upsert_upload

__all__ = [
    "BatchResult",
    "Upserted",
    "check_upload",
    "source_batch_create",
    "source_create",
    "source_create_upload",
    "source_delete",
    "source_fail_stuck",
    "source_ingest",
    "source_ingest_children",
    "source_purge_vectors",
    "source_reindex_bot",
    "source_run_ingestion",
    "source_update",
    "source_upsert",
    "source_upsert_upload",
]
