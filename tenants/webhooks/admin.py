"""Each tenant's webhooks and delivery log in the operator console (tenant picked with ?tenant=<slug>).

Secrets are never shown, not even as ciphertext. The delivery log is history: read-only. Deactivating goes
through the service.
"""

from django.contrib import admin, messages

from minirag.admin import TenantScopedAdmin
from tenants.webhooks import services
from tenants.webhooks.models import Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(TenantScopedAdmin):
    list_display = ["url", "event_list", "is_active", "description", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    exclude = ["encrypted_secret"]
    actions = ["deactivate"]
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Webhook._meta.fields if field.name != "encrypted_secret"]

    @admin.display(description="Events")
    def event_list(self, webhook):
        return ", ".join(webhook.events)

    @admin.action(description="Deactivate selected webhooks")
    def deactivate(self, request, queryset):
        count = 0
        for webhook in queryset.filter(is_active=True):
            services.webhook_update(webhook=webhook, changes={"is_active": False})
            count += 1
        self.message_user(request, f"Deactivated {count} webhook(s).", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    list_display = ["created_at", "webhook", "event", "attempt", "success", "status_code", "duration_ms", "error"]
    list_filter = ["success", "event"]
    search_fields = ["error", "delivery_id"]
    list_select_related = ["webhook"]
    list_per_page = 50
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in WebhookDelivery._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
