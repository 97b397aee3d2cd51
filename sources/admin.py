"""Each tenant's sources in the operator console, with re-ingest and deactivate actions (via the services), plus
the cross-tenant pieces in sources.console (the tenants list's columns, the failed & stuck page)."""

from django.contrib import admin, messages

from minirag.admin import TenantScopedAdmin, register_tenant_stat
from minirag.errors import DomainError
from sources import services
from sources.console import SOURCES_STAT, FailedAndStuckPage
from sources.models import Source

register_tenant_stat(SOURCES_STAT)


@admin.register(Source)
class SourceAdmin(FailedAndStuckPage, TenantScopedAdmin):
    list_display = [
        "name",
        "external_id",
        "bot_profile",
        "source_type",
        "status",
        "stage",
        "progress",
        "chunk_count",
        "short_error",
        "is_active",
        "updated_at",
    ]
    list_filter = ["status", "source_type", "is_active"]
    search_fields = ["name", "external_id", "error_message"]
    list_select_related = ["bot_profile"]
    exclude = ["ingest_token"]
    actions = ["reingest", "deactivate"]
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Source._meta.fields if field.name != "ingest_token"]

    @admin.display(description="Error")
    def short_error(self, source):
        return (source.error_message or "")[:120]

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
