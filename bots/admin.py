"""Bot profiles in the operator console: configuration only, never credentials (not even ciphertext)."""

from django.contrib import admin, messages

from bots import services
from bots.models import BotProfile
from minirag.admin import StatColumn, TenantScopedAdmin, TenantStat, register_tenant_stat


def _active_bots_sql(table, now) -> tuple[str, list]:
    return f"SELECT count(*) FROM {table(BotProfile)} WHERE is_active", []


# The tenants list's *Bots* column (minirag.admin: one cross-schema query for the whole page).
register_tenant_stat(
    TenantStat(
        name="bots",
        sql=_active_bots_sql,
        columns=(StatColumn("bot_count", "Bots", "Bots", lambda count: f"{count:,}"),),
    )
)


@admin.register(BotProfile)
class BotProfileAdmin(TenantScopedAdmin):
    list_display = ["name", "model", "embedding_model", "has_credentials", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    exclude = ["encrypted_credentials"]
    readonly_fields = ["id", "has_credentials", "created_at", "updated_at"]
    actions = ["deactivate_bots"]
    list_per_page = 50

    @admin.display(boolean=True, description="Credentials")
    def has_credentials(self, bot):
        return bot.has_credentials

    @admin.action(description="Deactivate selected bot profiles")
    def deactivate_bots(self, request, queryset):
        count = 0
        for bot in queryset:
            services.bot_delete(bot=bot)
            count += 1
        self.message_user(request, f"Deactivated {count} bot profile(s).", messages.SUCCESS)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in BotProfile._meta.fields if field.name != "encrypted_credentials"] + [
            "has_credentials"
        ]
