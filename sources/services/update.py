"""Changing sources: PATCH semantics (`source_update`), soft delete (`source_delete`, cascading to children),
and the purge of a non-transactional index (Qdrant) that retries in a task when the index is unreachable."""

import logging
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from sources.index import KnowledgeIndexError, get_index
from sources.models import Document, Source, SourceStatus, SourceType
from sources.services.checks import (
    clean_external_id,
    external_id_taken,
    field_error,
    is_external_id_clash,
    validate_payload,
)
from sources.services.queueing import PURGE_SOURCE_VECTORS, enqueue

logger = logging.getLogger("minirag.sources")

UPDATABLE_FIELDS = ("name", "description", "config", "content", "is_active", "refresh_schedule", "external_id")


def mark_pending(source: Source) -> set[str]:
    """Back to `pending` for new content; returns the fields changed. A run in flight would index the old
    content: it is superseded (its token no longer matches)."""
    source.status = SourceStatus.PENDING
    source.stage = None
    source.progress = 0
    source.ingest_token = None
    source.processing_started_at = None
    source.content_hash = ""  # the next ingest must not be skipped as "unchanged"
    return {"status", "stage", "progress", "content_hash", "ingest_token", "processing_started_at"}


def source_update(*, source: Source, changes: dict[str, Any]) -> Source:
    """PATCH semantics. A `content` or `config` change puts the source back to `pending` (its current
    knowledge stays searchable until re-ingested). `is_active: false` removes its knowledge (and its
    children's) from retrieval before returning; `is_active: true` brings it back as `pending`.
    An `external_id` (or a reactivation) that another active source of the bot holds is a Conflict."""
    if "external_id" in changes:
        changes = {**changes, "external_id": clean_external_id(changes["external_id"])}
    try:
        source, deactivate = _apply_update(source, changes)
    except IntegrityError as error:
        if is_external_id_clash(error):
            raise external_id_taken(changes.get("external_id", source.external_id)) from None
        raise
    if deactivate:
        source_delete(source=source)
        source.refresh_from_db()
    return source


def _apply_update(source: Source, changes: dict[str, Any]) -> tuple[Source, bool]:
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        deactivate = changes.get("is_active") is False and source.is_active
        reactivate = changes.get("is_active") is True and not source.is_active
        fields = {"updated_at"}
        for field in UPDATABLE_FIELDS:
            if field not in changes or field == "is_active":
                continue
            value = changes[field]
            if value is None and field in ("name", "description", "config"):
                raise field_error((field,), "This field may not be null.", "value_error.null")
            setattr(source, field, value)
            fields.add(field)
        if "content" in changes or "config" in changes:
            crawls = isinstance(source.config, dict) and "crawl" in source.config  # checked even with children
            if source.source_type != SourceType.UPLOAD and (
                crawls or source.children.filter(is_active=True).count() == 0
            ):
                source.config, source.content = validate_payload(
                    source.source_type, source.config or {}, source.content, allow_crawl=source.parent_id is None
                )
            fields |= {"config", "content", *mark_pending(source)}
        if reactivate:
            source.is_active = True
            source.status = SourceStatus.PENDING
            source.stage = None
            source.progress = 0
            fields |= {"is_active", "status", "stage", "progress"}
        source.save(update_fields=sorted(fields))
    return source, deactivate


def source_delete(*, source: Source) -> None:
    """Soft delete, cascading to active children. Their knowledge leaves the index before this returns: with
    the PostgreSQL index in the same transaction; with Qdrant right after it, and if Qdrant is unreachable
    the sources stay excluded from retrieval (`purge_pending`) until the purge task succeeds."""
    index = get_index()
    with transaction.atomic():
        ids = [source.pk, *Source.objects.filter(parent=source, is_active=True).values_list("pk", flat=True)]
        Source.objects.filter(pk__in=ids).update(
            is_active=False,
            purge_pending=not index.transactional,
            status=SourceStatus.PENDING,
            stage=None,
            progress=0,
            ingest_token=None,  # a run in flight is superseded and writes nothing
            processing_started_at=None,
            heartbeat_at=None,
            current_document=None,
            content_hash="",
            document_count=0,
            chunk_count=0,
            updated_at=timezone.now(),
        )
        Document.objects.filter(source_id__in=ids).delete()  # chunks, postings and vectors cascade
    if not index.transactional:
        source_purge_vectors(source_ids=[str(pk) for pk in ids])


def source_purge_vectors(*, source_ids: Sequence[str], raise_errors: bool = False) -> bool:
    """Remove the sources' entries from a non-transactional index. On failure: raise KnowledgeIndexError
    (`raise_errors`, the retrying purge task) or queue that task after commit and return False."""
    if not get_index().retire_sources(source_ids=list(source_ids)):
        if raise_errors:
            raise KnowledgeIndexError("The knowledge index is unreachable; the purge will be retried")
        logger.warning("index purge of %d source(s) failed; queued for retry", len(source_ids))
        enqueue(PURGE_SOURCE_VECTORS, source_ids=list(source_ids))
        return False
    Source.objects.filter(pk__in=source_ids, is_active=False).update(purge_pending=False)
    return True
