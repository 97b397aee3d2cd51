"""Operator console for the public schema. State changes go through services.

The tenants list adds per-tenant bots, sources by status, chunks and 30-day tokens, read for the whole page
in one cross-schema query (minirag.console.selectors). The tenant page links to that tenant's sources, chats,
usage and webhooks (minirag.console.views, each read in the tenant's schema), and a cross-tenant page lists
failed and stuck ingestions with a retry action.
"""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.urls import path
from django.utils.html import format_html_join

from minirag.console import selectors as console_selectors
from minirag.console.views import ConsoleViews, console_links
from tenants import selectors, services
from tenants.models import ApiToken, Domain, InviteCode, Tenant, User


class TenantChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # At most one query for the whole page, whatever the number of tenants and columns (cached briefly).
        self.result_list = list(self.result_list)
        stats = console_selectors.tenant_stats_cached([tenant.schema_name for tenant in self.result_list])
        for tenant in self.result_list:
            tenant.console_stats = stats.get(tenant.schema_name, console_selectors.TenantStats())


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "plan",
        "is_active",
        "user_count",
        "active_token_count",
        "bot_count",
        "sources_by_status",
        "chunk_count",
        "tokens_30d",
        "created",
    ]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "schema_name", "created_at", "updated_at"]
    fields = ["id", "name", "slug", "schema_name", "plan", "is_active", "created_at", "updated_at"]
    actions = ["deactivate_tenants", "activate_tenants"]
    list_per_page = 50
    list_max_show_all = 500
    change_form_template = "admin/console/tenant_change_form.html"
    change_list_template = "admin/console/tenant_change_list.html"

    def get_queryset(self, request):
        return selectors.tenant_list_with_counts()

    def get_changelist(self, request, **kwargs):
        return TenantChangeList

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
            from django import forms
            from django.conf import settings

            choices = [(name, name) for name in settings.PLANS]
            return forms.ChoiceField(choices=choices, label="Plan", help_text="Quotas per plan: settings PLANS")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # --- console pages --------------------------------------------------------------------------------------

    def get_urls(self):
        views = ConsoleViews(self)
        wrap = self.admin_site.admin_view
        console = [
            path("problems/", wrap(views.problems), name="tenants_tenant_console_problems"),
            path("<uuid:tenant_id>/sources/", wrap(views.sources), name="tenants_tenant_console_sources"),
            path("<uuid:tenant_id>/chats/", wrap(views.chats), name="tenants_tenant_console_chats"),
            path(
                "<uuid:tenant_id>/chats/<uuid:chat_id>/",
                wrap(views.chat_detail),
                name="tenants_tenant_console_chat",
            ),
            path("<uuid:tenant_id>/usage/", wrap(views.usage), name="tenants_tenant_console_usage"),
            path("<uuid:tenant_id>/webhooks/", wrap(views.webhooks), name="tenants_tenant_console_webhooks"),
            path("<uuid:tenant_id>/deactivate/", wrap(views.deactivate), name="tenants_tenant_console_deactivate"),
        ]
        return console + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        from minirag.api.throttling import denied_counts

        # Refusals of the limits that count anonymous clients (sign-up, login), all tenants together.
        extra = {"throttled_anonymous": denied_counts(scopes=["signup_ip", "login_ip", "login_email"])}
        return super().changelist_view(request, extra_context={**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tenant = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if tenant is not None:
            extra["console_links"] = console_links(tenant)
            extra["console_stats"] = console_selectors.tenant_stats([tenant.schema_name]).get(
                tenant.schema_name, console_selectors.TenantStats()
            )
            extra.update(_quotas_and_throttling(tenant))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    # --- list columns ------------------------------------------------------------------------------------------

    @admin.display(description="Users", ordering="user_count")
    def user_count(self, tenant):
        return tenant.user_count

    @admin.display(description="Active tokens", ordering="active_token_count")
    def active_token_count(self, tenant):
        return tenant.active_token_count

    @admin.display(description="Bots")
    def bot_count(self, tenant):
        return _stats(tenant).bots

    @admin.display(description="Sources")
    def sources_by_status(self, tenant):
        stats = _stats(tenant)
        if not stats.sources_total:
            return "0"
        return format_html_join(
            " ",
            '<span class="console-status console-{}">{} {}</span>',
            ((status, count, status) for status, count in stats.sources.items() if count),
        )

    @admin.display(description="Chunks")
    def chunk_count(self, tenant):
        return f"{_stats(tenant).chunks:,}"

    @admin.display(description="Created", ordering="created_at")
    def created(self, tenant):
        return tenant.created_at.date().isoformat()

    @admin.display(description="Tokens 30 d")
    def tokens_30d(self, tenant):
        return f"{_stats(tenant).tokens_30d:,}"

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


def _quotas_and_throttling(tenant) -> dict:
    """The tenant page's quota table (use toward each quota of its plan) and its rate-limit refusals (7 days)."""
    from minirag.api.throttling import SCOPES, denied_counts
    from minirag.tenancy import tenant_context
    from usage.plans import plan_name
    from usage.selectors import quota_usage

    with tenant_context(tenant):
        quotas = quota_usage(tenant=tenant)
    tenant_scopes = [scope for scope in SCOPES if scope in ("chat_tenant", "chat_bot", "writes_token")]
    return {
        "quota_plan": plan_name(tenant),
        "quotas": [
            {
                "name": name,
                "used": row["used"],
                "limit": row["limit"],
                "percent": round(100 * row["used"] / row["limit"]) if row["limit"] else None,
            }
            for name, row in quotas.items()
        ],
        "throttled": denied_counts(tenant_id=tenant.id, scopes=tenant_scopes),
    }


def _stats(tenant) -> console_selectors.TenantStats:
    return getattr(tenant, "console_stats", None) or console_selectors.TenantStats()


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
