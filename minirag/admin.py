"""The operator console's shared pieces (the console is the Django admin, run in the public schema).

- `TenantScopedAdmin`: the base of every ModelAdmin for tenant-schema models. It shows one tenant at a time: the
  tenant is picked with `?tenant=<slug>` (links on the list page), remembered in the session, and every view runs
  — including template rendering, which Django does lazily — inside that tenant's schema; an object's page can
  add context read there (`change_context`).
- The tenants list's per-tenant numbers: each app registers a `TenantStat` (an SQL expression over its own tables)
  from its admin module; `tenant_stats()` computes every registered stat for a page of tenants in ONE `UNION ALL`
  query (each branch reads one schema's tables by qualified name), however many tenants and columns it shows.
- Sections of the tenant page that other apps own (`TenantPanel`, e.g. usage's quota table), rendered in the
  tenant's schema.

This module knows no domain app: the apps fill the registries (the admin imports their admin modules at startup).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from minirag.tenancy import PUBLIC_SCHEMA, tenant_context, tenants_all

SESSION_KEY = "admin_tenant_id"
MAX_TENANT_LINKS = 200


class TenantScopedAdmin(admin.ModelAdmin):
    change_list_template = "admin/tenant_scoped_change_list.html"

    def _current_tenant(self, request):
        slug = request.GET.get("tenant")
        if slug:
            request.GET = request.GET.copy()
            request.GET.pop("tenant", None)
            chosen = tenants_all().filter(slug=slug).first()
            if chosen is not None:
                request.session[SESSION_KEY] = str(chosen.id)
                return chosen
        tenant_id = request.session.get(SESSION_KEY)
        tenant = tenants_all().filter(pk=tenant_id).first() if tenant_id else None
        return tenant or tenants_all().first()

    def _in_tenant(self, request, view, *args, extra_context=None, context_in_tenant=None, **kwargs):
        tenant = self._current_tenant(request)
        if tenant is None:
            return HttpResponse("No tenants yet.", content_type="text/plain")
        context = {
            **(extra_context or {}),
            "admin_tenant": tenant,
            "admin_tenants": list(tenants_all()[:MAX_TENANT_LINKS]),
        }
        with tenant_context(tenant):
            if context_in_tenant is not None:
                context.update(context_in_tenant())
            response = view(request, *args, extra_context=context, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    def changelist_view(self, request, extra_context=None):
        return self._in_tenant(request, super().changelist_view, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._in_tenant(
            request,
            super().change_view,
            object_id,
            form_url,
            extra_context=extra_context,
            context_in_tenant=lambda: self.change_context(request, object_id),
        )

    def change_context(self, request, object_id) -> dict:
        """Extra context for an object's page, computed in the tenant's schema (e.g. its related rows, paged)."""
        return {}

    def history_view(self, request, object_id, extra_context=None):
        return self._in_tenant(request, super().history_view, object_id, extra_context=extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._in_tenant(request, super().delete_view, object_id, extra_context=extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deletion is soft and has side effects (vectors): only through the services (actions).
        return False


def tenant_scoped_links(admin_site, tenant) -> list[tuple[str, str]]:
    """(title, URL) of every tenant-scoped model page, opened on `tenant`: the tenant page's links to its data."""
    links = []
    for model in apps.get_models():
        if admin_site.is_registered(model) and isinstance(admin_site.get_model_admin(model), TenantScopedAdmin):
            opts = model._meta
            url = reverse(f"{admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
            links.append((str(opts.verbose_name_plural).capitalize(), f"{url}?tenant={tenant.slug}"))
    return links


# --- Cross-schema reads ---------------------------------------------------------------------------------------


def schema_table(schema_name: str, model) -> str:
    """`model`'s table in `schema_name`, quoted. Schema names come from the Tenant table, never from a request."""
    return f"{connection.ops.quote_name(schema_name)}.{connection.ops.quote_name(model._meta.db_table)}"


# `table(Model)` names a model's table in the schema a branch reads.
Table = Callable[[Any], str]


@dataclass(frozen=True)
class StatColumn:
    name: str  # the column's id on the tenants list
    title: str  # its header on the tenants list
    card_title: str  # its card on the tenant page
    render: Callable[[Any], str]  # the stat's value -> text or safe HTML


@dataclass(frozen=True)
class TenantStat:
    """Numbers per tenant, owned by the app whose tables they count.

    `sql(table, now)` returns one scalar SQL expression (a number, or a JSON object of numbers) and its
    parameters, evaluated in one tenant's schema; `default` stands in when a tenant has no row.
    """

    name: str
    sql: Callable[[Table, datetime], tuple[str, list]]
    columns: tuple[StatColumn, ...]
    default: Any = 0


_TENANT_STATS: dict[str, TenantStat] = {}


def register_tenant_stat(stat: TenantStat) -> None:
    """Called by an app's admin module (idempotent)."""
    _TENANT_STATS[stat.name] = stat


def registered_tenant_stats() -> list[TenantStat]:
    return list(_TENANT_STATS.values())


def tenant_stats(schema_names: list[str], *, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Every registered stat of every schema in `schema_names` ({schema: {stat: value}}), in one query."""
    stats = registered_tenant_stats()
    schema_names = [name for name in dict.fromkeys(schema_names) if name and name != PUBLIC_SCHEMA]
    if not schema_names or not stats:
        return {}
    now = now or timezone.now()
    branches, params = [], []
    for schema in schema_names:
        expressions, branch_params = [], [schema]
        for stat in stats:
            sql, stat_params = stat.sql(lambda model, schema=schema: schema_table(schema, model), now)
            expressions.append(f"({sql})")
            branch_params.extend(stat_params)
        branches.append(f"SELECT %s::text, {', '.join(expressions)}")
        params.extend(branch_params)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = cursor.fetchall()
    return {
        schema: {stat.name: stat.default if value is None else value for stat, value in zip(stats, values, strict=True)}
        for schema, *values in rows
    }


STATS_CACHE_SECONDS = 30
_CACHE_PREFIX = "console:tenant-stats:"


def tenant_stats_cached(schema_names: list[str]) -> dict[str, dict[str, Any]]:
    """`tenant_stats`, served from the cache for up to STATS_CACHE_SECONDS; the misses are computed together
    in one query. For the tenants list, where repeated loads and paging are common."""
    keys = {f"{_CACHE_PREFIX}{name}": name for name in schema_names}
    cached = {keys[key]: value for key, value in cache.get_many(list(keys)).items()}
    missing = [name for name in schema_names if name not in cached]
    fresh = tenant_stats(missing)
    if fresh:
        cache.set_many({f"{_CACHE_PREFIX}{name}": value for name, value in fresh.items()}, STATS_CACHE_SECONDS)
    return {**cached, **fresh}


def stat_value(stats: dict[str, Any], stat: TenantStat) -> Any:
    return stats.get(stat.name, stat.default)


# --- Tenant page sections owned by other apps -------------------------------------------------------------------


@dataclass(frozen=True)
class TenantPanel:
    name: str
    render: Callable[[Any], str]  # tenant -> safe HTML; runs inside the tenant's schema


_TENANT_PANELS: dict[str, TenantPanel] = {}


def register_tenant_panel(panel: TenantPanel) -> None:
    """Called by an app's admin module (idempotent)."""
    _TENANT_PANELS[panel.name] = panel


def render_tenant_panels(tenant) -> list[str]:
    with tenant_context(tenant):
        return [panel.render(tenant) for panel in _TENANT_PANELS.values()]
