"""The operator console's public-schema pages: tenants, users, API tokens, invite codes. State changes go through
services.

The tenants list shows users and tokens per tenant plus the numbers the apps register (minirag.admin.TenantStat:
bots, sources by status, chunks, tokens in 30 days), read for the whole page in one cross-schema query. The tenant
page shows the same numbers, links to that tenant's pages in every app's admin (each read in the tenant's schema),
the sections other apps add (usage's quotas), its rate-limit refusals, and a *deactivate tenant* button.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from minirag import admin as console
from minirag.api.throttling import denied_counts
from minirag.tenancy import tenants_all
from tenants import publishable_keys, selectors, services
from tenants.models import ApiToken, Domain, InviteCode, PublishableKey, Tenant, User

# The rate limits that count one tenant's requests (the anonymous ones are shown on the tenants list).
TENANT_THROTTLE_SCOPES = ["chat_tenant", "chat_bot", "writes_token"]
ANONYMOUS_THROTTLE_SCOPES = ["signup_ip", "login_ip", "login_email"]


class TenantChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # At most one query for the whole page, whatever the number of tenants and columns (cached briefly).
        self.result_list = list(self.result_list)
        stats = console.tenant_stats_cached([tenant.schema_name for tenant in self.result_list])
        for tenant in self.result_list:
            tenant.console_stats = stats.get(tenant.schema_name, {})


def _stat_column(stat: console.TenantStat, column: console.StatColumn):
    """A tenants-list column showing one registered stat (read from the stats TenantChangeList attached)."""

    def display(tenant):
        return column.render(console.stat_value(getattr(tenant, "console_stats", {}), stat))

    display.__name__ = column.name
    display.short_description = column.title
    return display


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "is_active", "user_count", "active_token_count", "created"]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "schema_name", "created_at", "updated_at"]
    fields = ["id", "name", "slug", "schema_name", "plan", "is_active", "created_at", "updated_at"]
    actions = ["deactivate_tenants", "activate_tenants"]
    list_per_page = 50
    list_max_show_all = 500
    change_form_template = "admin/tenants/tenant/change_form.html"
    change_list_template = "admin/tenants/tenant/change_list.html"

    def get_queryset(self, request):
        return selectors.tenant_list_with_counts()

    def get_changelist(self, request, **kwargs):
        return TenantChangeList

    def get_list_display(self, request):
        *own, created = self.list_display
        stats = [_stat_column(stat, column) for stat in console.registered_tenant_stats() for column in stat.columns]
        return [*own, *stats, created]

    def has_add_permission(self, request) -> bool:
        # Tenants are created by the bootstrap service (API or `manage.py bootstrap_tenant`) with their schema.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug", "is_active"] if obj else self.readonly_fields

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "plan":
            # The plans settings.PLANS defines (each with its quotas), not free text.
            choices = [(name, name) for name in settings.PLANS]
            return forms.ChoiceField(choices=choices, label="Plan", help_text="Quotas per plan: settings PLANS")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # --- pages ------------------------------------------------------------------------------------------------

    def get_urls(self):
        deactivate = path(
            "<uuid:tenant_id>/deactivate/",
            self.admin_site.admin_view(self.deactivate_view),
            name="tenants_tenant_deactivate",
        )
        return [deactivate, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        # Refusals of the limits that count anonymous clients (sign-up, login), all tenants together.
        extra = {"throttled_anonymous": denied_counts(scopes=ANONYMOUS_THROTTLE_SCOPES)}
        return super().changelist_view(request, extra_context={**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tenant = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if tenant is not None:
            stats = console.tenant_stats([tenant.schema_name]).get(tenant.schema_name, {})
            extra["console_cards"] = [
                (column.card_title, column.render(console.stat_value(stats, stat)))
                for stat in console.registered_tenant_stats()
                for column in stat.columns
            ]
            extra["console_links"] = console.tenant_scoped_links(self.admin_site, tenant)
            extra["console_panels"] = console.render_tenant_panels(tenant)
            extra["throttled"] = denied_counts(tenant_id=tenant.id, scopes=TENANT_THROTTLE_SCOPES)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def deactivate_view(self, request, tenant_id):
        """The tenant page's *deactivate tenant* button (POST): its tokens stop working on their next request."""
        tenant = get_object_or_404(tenants_all(), pk=tenant_id)
        if not self.has_change_permission(request, tenant):
            raise PermissionDenied
        if request.method == "POST":
            services.tenant_set_active(tenant=tenant, is_active=False)
            messages.success(request, f"Tenant {tenant.slug} deactivated: its tokens stop working now.")
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    # --- list columns ------------------------------------------------------------------------------------------

    @admin.display(description="Users", ordering="user_count")
    def user_count(self, tenant):
        return tenant.user_count

    @admin.display(description="Active tokens", ordering="active_token_count")
    def active_token_count(self, tenant):
        return tenant.active_token_count

    @admin.display(description="Created", ordering="created_at")
    def created(self, tenant):
        return tenant.created_at.date().isoformat()

    # --- actions -----------------------------------------------------------------------------------------------

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
    # Never the password field itself: its widget would show the hash (or Django's summary of algorithm,
    # salt and hash). Whether one is set is all an operator needs; users change it through the API.
    readonly_fields = ["id", "tenant", "password_status", "last_login", "created_at", "updated_at"]
    fields = [
        "id",
        "tenant",
        "email",
        "display_name",
        "role",
        "is_active",
        "is_staff",
        "is_superuser",
        "password_status",
        "last_login",
        "created_at",
        "updated_at",
    ]
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Password")
    def password_status(self, user) -> str:
        return "Set" if user.has_usable_password() else "Not set"


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


@admin.register(PublishableKey)
class PublishableKeyAdmin(admin.ModelAdmin):
    """Publishable (bot) keys, read-only and without their secret (only the hash is stored; it is not shown)."""

    list_display = ["name", "key_prefix", "tenant", "bot_profile_id", "created_by", "is_active", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_prefix", "tenant__slug", "created_by__email"]
    list_select_related = ["tenant", "created_by"]
    fields = readonly_fields = [
        "id",
        "tenant",
        "bot_profile_id",
        "name",
        "allowed_origins",
        "key_prefix",
        "is_active",
        "created_by",
        "last_used_at",
        "created_at",
    ]
    actions = ["pause_keys"]
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Pause selected keys")
    def pause_keys(self, request, queryset):
        for key in queryset:
            publishable_keys.publishable_key_update(key=key, changes={"is_active": False})
        self.message_user(request, f"Paused {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(InviteCode)
class InviteCodeAdmin(admin.ModelAdmin):
    """Invite codes for public sign-up (SIGNUP_MODE=invite). Adding one shows the code once; it is stored hashed."""

    list_display = ["code_prefix", "note", "use_count", "max_uses", "expires_at", "is_active", "usable", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["code_prefix", "note"]
    readonly_fields = ["id", "code_prefix", "use_count", "last_used_at", "created_at", "updated_at"]
    actions = ["revoke_codes"]
    list_per_page = 50

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["note", "max_uses", "expires_at"]
        return ["id", "code_prefix", "note", "max_uses", "use_count", "expires_at", "is_active", "last_used_at"]

    @admin.display(boolean=True, description="Usable")
    def usable(self, invite) -> bool:
        return invite.is_usable

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = services.invite_code_issue(invite=obj)
        self.message_user(request, f"Invite code (shown once, copy it now): {raw}", messages.WARNING)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row keeps the record of its uses

    @admin.action(description="Revoke selected invite codes")
    def revoke_codes(self, request, queryset):
        for invite in queryset:
            services.invite_code_revoke(invite=invite)
        self.message_user(request, f"Revoked {queryset.count()} invite code(s).", messages.SUCCESS)


admin.site.register(Domain)
admin.site.site_header = "MiniRAG operator console"
admin.site.site_title = "MiniRAG"
admin.site.index_title = "Operations"
