"""Reads for sources. List endpoints annotate child aggregates in the same query (no N+1)."""

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from minirag.errors import NotFound
from sources.models import IngestStage, Source, SourceStatus, SourceType


def with_child_aggregates(queryset: QuerySet[Source]) -> QuerySet[Source]:
    active = Q(children__is_active=True)
    return queryset.annotate(
        active_children=Count("children", filter=active),
        children_processing=Count("children", filter=active & Q(children__status=SourceStatus.PROCESSING)),
        children_error=Count("children", filter=active & Q(children__status=SourceStatus.ERROR)),
        children_ready=Count("children", filter=active & Q(children__status=SourceStatus.READY)),
        children_chunks=Coalesce(Sum("children__chunk_count", filter=active), 0),
    )


def source_get(*, source_id, aggregate: bool = True) -> Source:
    """A source by id, soft-deleted ones included; NotFound("Source not found") otherwise."""
    queryset = Source.objects.all()
    if aggregate:
        queryset = with_child_aggregates(queryset)
    try:
        source = queryset.filter(pk=source_id).first()
    except (ValueError, TypeError, ValidationError):
        source = None
    if source is None:
        raise NotFound("Source not found")
    return source


def source_list(*, bot_profile_id=None, parent_id=None, include_children: bool = False) -> QuerySet[Source]:
    """Active sources, newest first. Top-level rows (aggregated) unless `parent_id` or `include_children`."""
    queryset = Source.objects.filter(is_active=True)
    if bot_profile_id is not None:
        queryset = queryset.filter(bot_profile_id=bot_profile_id)
    if parent_id is not None:
        queryset = queryset.filter(parent_id=parent_id)
    elif not include_children:
        queryset = with_child_aggregates(queryset.filter(parent__isnull=True))
    return queryset.order_by("-created_at", "id")


def source_children(*, parent: Source) -> QuerySet[Source]:
    """The parent's active children, oldest first."""
    return Source.objects.filter(parent=parent, is_active=True).order_by("created_at", "id")


def aggregated_view(source: Source) -> dict:
    """status / chunk_count / children_count / progress as the API shows them (children aggregated).

    A crawl parent shows its own status, stage and progress while its crawl is queued or running, and when
    its last crawl failed (its children keep their knowledge; `crawl_report` and `error_message` say why)."""
    children = getattr(source, "active_children", 0) or 0
    own_run = source.stage in (IngestStage.QUEUED, IngestStage.CRAWLING) or (
        source.is_crawl and source.status == SourceStatus.ERROR
    )
    if not children or own_run:
        return {
            "status": source.status,
            "chunk_count": source.children_chunks if children else source.chunk_count,
            "children_count": children,
            "stage": source.stage,
            "progress": source.progress,
        }
    if source.children_processing:
        status = SourceStatus.PROCESSING
    elif source.children_error:
        status = SourceStatus.ERROR
    elif source.children_ready == children:
        status = SourceStatus.READY
    else:
        status = SourceStatus.PENDING
    finished = source.children_ready + source.children_error
    return {
        "status": status,
        "chunk_count": source.children_chunks,
        "children_count": children,
        "stage": "done" if status == SourceStatus.READY else None,
        "progress": round(100 * finished / children),
    }


# --- ingestion runs ---------------------------------------------------------------------------------------


def dead_runs() -> Q:
    """A filter: sources whose ingestion run lost its lease (the worker died), or ran past the hard cap."""
    now = timezone.now()
    lapsed = now - timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    return (
        Q(heartbeat_at__lt=lapsed)
        | Q(heartbeat_at__isnull=True, processing_started_at__lt=lapsed)
        | Q(heartbeat_at__isnull=True, processing_started_at__isnull=True)
        | Q(processing_started_at__lt=now - timedelta(seconds=settings.INGEST_STUCK_AFTER_SECONDS))
    )


def has_live_run(source: Source) -> bool:
    """The source is being ingested by a run that still holds its lease."""
    return (
        source.status == SourceStatus.PROCESSING
        and not Source.objects.filter(pk=source.pk).filter(dead_runs()).exists()
    )


# --- external ids -----------------------------------------------------------------------------------------


KEYS_PER_QUERY = 5000  # well under PostgreSQL's 65,535 parameters per statement


def sources_by_external_id(*, bot_profile_id, external_ids: Iterable[str]) -> dict[str, Source]:
    """The bot's active sources carrying these keys, by key (one query per 5,000 keys; `content` is not loaded)."""
    keys = sorted({key for key in external_ids if key})
    found: dict[str, Source] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        batch = keys[start : start + KEYS_PER_QUERY]
        queryset = Source.objects.filter(bot_profile_id=bot_profile_id, is_active=True, external_id__in=batch)
        found.update((source.external_id, source) for source in queryset.defer("content"))
    return found


def sources_with_external_id_prefix(*, bot_profile_id, prefix: str) -> QuerySet[Source]:
    """The bot's active sources whose key starts with `prefix` (`content` is not loaded), by key."""
    return (
        Source.objects.filter(bot_profile_id=bot_profile_id, is_active=True, external_id__startswith=prefix)
        .exclude(external_id="")
        .defer("content")
        .order_by("external_id")
    )


def file_sha256(file: File) -> str:
    """SHA-256 of a file's bytes, read in chunks; the file is left at its start."""
    digest = hashlib.sha256()
    for block in file.chunks():
        digest.update(block)
    file.seek(0)
    return digest.hexdigest()


def source_file_sha256(*, source: Source) -> str:
    """The SHA-256 of an upload source's stored file: the one recorded at upload, else read from storage
    (uploads made before the digest was recorded). "" when there is no readable file."""
    if source.source_type != SourceType.UPLOAD:
        return ""
    if source.file_sha256:
        return source.file_sha256
    if not source.file:
        return ""
    try:
        with source.file.open("rb") as handle:
            return file_sha256(handle)
    except (FileNotFoundError, OSError):
        return ""
