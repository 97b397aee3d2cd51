"""Operator console for the public schema. State changes go through tenants.services."""

from django.contrib import admin, messages

from tenants import selectors, services
from tenants.models import ApiToken, Domain, Tenant, User


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "is_active", "user_count", "active_token_count", "created_at"]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "schema_name", "created_at", "updated_at"]
    fields = ["id", "name", "slug", "schema_name", "plan", "is_active", "created_at", "updated_at"]
    actions = ["deactivate_tenants", "activate_tenants"]
    list_per_page = 50

    def get_queryset(self, request):
        return selectors.tenant_list_with_counts()

    def has_add_permission(self, request) -> bool:
        # Tenants are created by the bootstrap service (API or `manage.py bootstrap_tenant`) with their schema.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug", "is_active"] if obj else self.readonly_fields

    @admin.display(description="Users", ordering="user_count")
    def user_count(self, tenant):
        return tenant.user_count

    @admin.display(description="Active tokens", ordering="active_token_count")
    def active_token_count(self, tenant):
        return tenant.active_token_count

    @admin.action(description="Deactivate selected tenants (their tokens stop working at once)")
    def deactivate_tenants(self, request, queryset):
        for tenant in queryset:
            services.tenant_set_active(tenant=tenant, is_active=False)
        self.message_user(request, f"Deactivated {queryset.count()} tenant(s).", messages.SUCCESS)

    @admin.action(description="Activate selected tenants")
    def activate_tenants(self, request, queryset):
        for tenant in queryset:
            services.tenant_set_active(tenant=tenant, is_active=True)
        self.message_user(request, f"Activated {queryset.count()} tenant(s).", messages.SUCCESS)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "display_name", "role", "is_active", "is_staff", "created_at"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "display_name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["id", "tenant", "password", "last_login", "created_at", "updated_at"]
    fields = [
        "id",
        "tenant",
        "email",
        "display_name",
        "role",
        "is_active",
        "is_staff",
        "is_superuser",
        "password",
        "last_login",
        "created_at",
        "updated_at",
    ]
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "token_prefix", "tenant", "user", "is_active", "last_used_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "token_prefix", "tenant__slug", "user__email"]
    list_select_related = ["tenant", "user"]
    readonly_fields = [
        "id",
        "tenant",
        "user",
        "name",
        "token_prefix",
        "is_active",
        "expires_at",
        "last_used_at",
        "created_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke_tokens"]
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        for token in queryset:
            services.api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


admin.site.register(Domain)
admin.site.site_header = "MiniRAG operator console"
admin.site.site_title = "MiniRAG"
