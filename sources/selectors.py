"""Reads for sources. List endpoints annotate child aggregates in the same query (no N+1)."""

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from minirag.errors import NotFound
from sources.models import Source, SourceStatus


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
    """status / chunk_count / children_count / progress as the API shows them (children aggregated)."""
    children = getattr(source, "active_children", 0) or 0
    if not children:
        return {
            "status": source.status,
            "chunk_count": source.chunk_count,
            "children_count": 0,
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
