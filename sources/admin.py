"""Each tenant's sources in the operator console, with re-ingest and deactivate actions (via the services), plus
the cross-tenant pieces in sources.console (the tenants list's columns, the failed & stuck page).

The list searches names, external ids and errors (the tenant's message and the operator-only detail) and filters
by bot, status, type and activity; its query count does not grow with the tenant's sources
(sources/tests/test_console_sources.py, bench/console.py). A source's page shows why it failed and what the bot
knows from it, a page of chunks at a time (sources.console_source).
"""

from django.contrib import admin, messages
from django.utils.html import format_html

from minirag.admin import TenantScopedAdmin, register_tenant_stat
from minirag.errors import DomainError
from sources import services
from sources.console import SOURCES_STAT, FailedAndStuckPage
from sources.console_source import PAGE_VAR, page_number, source_knowledge
from sources.models import Source

register_tenant_stat(SOURCES_STAT)


@admin.register(Source)
class SourceAdmin(FailedAndStuckPage, TenantScopedAdmin):
    list_display = ["source", "bot_profile", "source_type", "state", "chunk_count", "short_error", "is_active",
                    "updated_at"]  # fmt: skip
    list_filter = ["bot_profile", "status", "source_type", "is_active"]
    search_fields = ["name", "external_id", "error_message", "error_detail"]
    list_select_related = ["bot_profile"]
    exclude = ["ingest_token", "content", "error_detail"]  # the detail is in the page's "Why it failed" box
    actions = ["reingest", "deactivate"]
    list_per_page = 50
    change_form_template = "admin/sources/source/change_form.html"
    CONTENT_PREVIEW_CHARS = 2000

    def get_readonly_fields(self, request, obj=None):
        # Everything is read-only (changes go through the services); a text source's content only as a preview.
        shown = [field.name for field in Source._meta.fields if field.name not in self.exclude]
        return [*shown[: shown.index("config") + 1], "content_preview", *shown[shown.index("config") + 1 :]]

    def lookup_allowed(self, lookup, value, request=None):
        # A batch's page links to its children (?parent__id__exact=<id>) without a filter listing every source.
        return lookup == "parent__id__exact" or super().lookup_allowed(lookup, value, request)

    def change_context(self, request, object_id) -> dict:
        return {
            "knowledge": source_knowledge(source_id=object_id, page=page_number(request.GET.get(PAGE_VAR))),
            "page_var": PAGE_VAR,
        }

    @admin.display(description="Source", ordering="name")
    def source(self, source):
        if not source.external_id:
            return source.name
        return format_html('{}<br><span class="console-muted">{}</span>', source.name, source.external_id[:120])

    @admin.display(description="Status", ordering="status")
    def state(self, source):
        if source.status == "processing" and source.stage:
            return f"processing: {source.stage} {source.progress}%"
        if source.status == "pending" and source.stage == "queued":
            return "queued"
        return source.status

    @admin.display(description="Error")
    def short_error(self, source):
        return (source.error_message or "")[:120]

    @admin.display(description="Content")
    def content_preview(self, source):
        content = source.content or ""
        if len(content) <= self.CONTENT_PREVIEW_CHARS:
            return format_html('<div style="white-space:pre-wrap">{}</div>', content) if content.strip() else "-"
        more = len(content) - self.CONTENT_PREVIEW_CHARS
        return format_html(
            '<div style="white-space:pre-wrap">{}</div><em>… {} more characters; the extracted text is below.</em>',
            content[: self.CONTENT_PREVIEW_CHARS],
            f"{more:,}",
        )

    @admin.action(description="Re-ingest selected sources")
    def reingest(self, request, queryset):
        queued, refused = 0, []
        for source in queryset:
            try:
                services.source_ingest(source=source, trigger="admin")
                queued += 1
            except DomainError as error:
                refused.append(f"{source.name}: {error.detail}")
        self.message_user(request, f"Queued {queued} source(s) for ingestion.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not queued — " + "; ".join(refused[:10]), messages.WARNING)

    @admin.action(description="Deactivate selected sources (removes their knowledge from retrieval)")
    def deactivate(self, request, queryset):
        count = 0
        for source in queryset.filter(is_active=True):
            services.source_delete(source=source)
            count += 1
        self.message_user(request, f"Deactivated {count} source(s).", messages.SUCCESS)
