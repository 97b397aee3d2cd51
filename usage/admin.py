"""Each tenant's usage events in the operator console (read-only ledger)."""

from django.contrib import admin

from bots.tenant_admin import TenantScopedAdmin
from usage.models import UsageEvent


@admin.register(UsageEvent)
class UsageEventAdmin(TenantScopedAdmin):
    list_display = [
        "created_at",
        "kind",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
        "time_to_first_token_ms",
        "is_stream",
    ]
    list_filter = ["kind", "model", "is_stream"]
    date_hierarchy = "created_at"
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in UsageEvent._meta.fields]
