"""Each tenant's usage events in the operator console (read-only ledger), the tenants list's *Tokens 30 d* column
and the tenant page's quota table."""

from datetime import timedelta

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from minirag.admin import (
    StatColumn,
    TenantPanel,
    TenantScopedAdmin,
    TenantStat,
    register_tenant_panel,
    register_tenant_stat,
)
from usage.models import UsageEvent
from usage.plans import plan_name
from usage.selectors import quota_usage

TOKENS_WINDOW = timedelta(days=30)


def _recent_tokens_sql(table, now) -> tuple[str, list]:
    sql = f"SELECT coalesce(sum(total_tokens), 0)::bigint FROM {table(UsageEvent)} WHERE created_at >= %s"
    return sql, [now - TOKENS_WINDOW]


def _quota_table(tenant) -> str:
    """The tenant's use toward each quota of its plan (runs in the tenant's schema)."""
    quotas = quota_usage(tenant=tenant)
    if not quotas:
        return ""
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td data-quota="{}">{} / {}</td><td>{}</td></tr>',
        (
            (
                name,
                name,
                row["used"],
                "unlimited" if row["limit"] is None else row["limit"],
                f"{round(100 * row['used'] / row['limit'])} %" if row["limit"] else "",
            )
            for name, row in quotas.items()
        ),
    )
    return format_html(
        '<h2>Quotas (plan {})</h2><table class="console-quotas"><thead><tr><th>Quota</th><th>Used / limit</th>'
        "<th></th></tr></thead><tbody>{}</tbody></table>",
        plan_name(tenant),
        rows,
    )


register_tenant_stat(
    TenantStat(
        name="tokens_30d",
        sql=_recent_tokens_sql,
        columns=(StatColumn("tokens_30d", "Tokens 30 d", "Tokens, last 30 days", lambda total: f"{total:,}"),),
    )
)
register_tenant_panel(TenantPanel(name="quotas", render=_quota_table))


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
