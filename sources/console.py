"""The sources' part of the operator console that spans tenants (the per-tenant pages are SourceAdmin's).

- `SOURCES_STAT`: the tenants list's *Sources* (active sources by status) and *Chunks* columns, one scan of each
  tenant's sources table inside the list's single cross-schema query (minirag.admin.tenant_stats).
- `FailedAndStuckPage`, mixed into SourceAdmin: `/admin/sources/source/problems/` lists every tenant's sources that
  failed or hang in processing or in the queue, read in ONE `UNION ALL` query over the tenants' schemas, and
  retries the selected ones with SourceAdmin's re-ingest action, in each source's own tenant.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join

from minirag.admin import StatColumn, TenantStat, schema_table
from minirag.tenancy import tenant_context, tenants_all
from sources.models import Source, SourceStatus
from tenants.models import Tenant

STATUSES = tuple(SourceStatus.values)


def _sources_sql(table, now) -> tuple[str, list]:
    by_status = ", ".join(f"'{status}', count(*) FILTER (WHERE status = '{status}')" for status in STATUSES)
    sql = (
        f"SELECT json_build_object({by_status}, 'chunks', coalesce(sum(chunk_count), 0)) "
        f"FROM {table(Source)} WHERE is_active"
    )
    return sql, []


def _render_statuses(value: dict) -> str:
    if not any(value.get(status) for status in STATUSES):
        return "0"
    return format_html_join(
        " ",
        '<span class="console-status console-{}">{} {}</span>',
        ((status, value[status], status) for status in STATUSES if value.get(status)),
    )


SOURCES_STAT = TenantStat(
    name="sources",
    sql=_sources_sql,
    default={**dict.fromkeys(STATUSES, 0), "chunks": 0},
    columns=(
        StatColumn("sources_by_status", "Sources", "Sources", _render_statuses),
        StatColumn("chunk_count", "Chunks", "Chunks", lambda value: f"{value.get('chunks', 0):,}"),
    ),
)


@dataclass(frozen=True)
class ProblemSource:
    tenant: Tenant
    source_id: str
    name: str
    source_type: str
    status: str
    stage: str | None
    error: str
    detail: str  # Source.error_detail: the real cause, for operators only (already redacted and capped)
    since: datetime | None
    problem: str  # "failed", "stuck processing", "stuck in queue"


def failed_and_stuck_sources(*, limit: int = 500, now: datetime | None = None) -> list[ProblemSource]:
    """Sources of every tenant that failed, or hang in `processing` or in the queue, newest problem first.

    Stuck = processing with a lapsed lease (its worker died; the sweeper fails it shortly) or for longer than
    INGEST_STUCK_AFTER_SECONDS, or queued for longer than that. One query for all tenants.
    """
    tenants = {tenant.schema_name: tenant for tenant in tenants_all()}
    if not tenants:
        return []
    stuck_before = (now or timezone.now()) - timedelta(seconds=settings.INGEST_STUCK_AFTER_SECONDS)
    lease_before = (now or timezone.now()) - timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    branches, params = [], []
    for schema in tenants:
        branches.append(
            "SELECT %s::text, id::text, name, source_type, status, stage, coalesce(error_message, ''), error_detail, "
            "CASE WHEN status = 'processing' THEN processing_started_at ELSE updated_at END AS since, "
            "CASE WHEN status = 'error' THEN 'failed' WHEN status = 'processing' THEN 'stuck processing' "
            "ELSE 'stuck in queue' END "
            f"FROM {schema_table(schema, Source)} WHERE is_active AND ("
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
    return [ProblemSource(tenants[row[0]], *row[1:]) for row in rows]


def _selected_by_tenant(values: list[str]) -> dict[str, list[str]]:
    """{tenant id: [source id]} from the page's "<tenant id>:<source id>" checkboxes; malformed ones are dropped."""
    selected: dict[str, list[str]] = {}
    for value in values:
        tenant_id, _, source_id = value.partition(":")
        if _is_uuid(tenant_id) and _is_uuid(source_id):
            selected.setdefault(str(uuid.UUID(tenant_id)), []).append(source_id)
    return selected


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        return False
    return True


class FailedAndStuckPage:
    """SourceAdmin's cross-tenant page (it runs in the public schema and enters each tenant it retries in)."""

    change_list_template = "admin/sources/source/change_list.html"  # links to the page

    def get_urls(self):
        page = path("problems/", self.admin_site.admin_view(self.problems_view), name="sources_source_problems")
        return [page, *super().get_urls()]

    def problems_view(self, request):
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            selected = _selected_by_tenant(request.POST.getlist("selected"))
            for tenant in tenants_all().filter(pk__in=list(selected)):
                with tenant_context(tenant):
                    sources = Source.objects.filter(is_active=True, pk__in=selected[str(tenant.pk)])
                    self.reingest(request, sources.order_by("created_at"))
            return HttpResponseRedirect(request.get_full_path())
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": Source._meta,
            "title": "Failed and stuck ingestions",
            "rows": failed_and_stuck_sources(),
            "stuck_minutes": round(settings.INGEST_STUCK_AFTER_SECONDS / 60),
        }
        return TemplateResponse(request, "admin/sources/source/problems.html", context)
