"""Admin pages for tenant-schema models (bot profiles, sources).

The operator console runs in the public schema. These pages show one tenant at a time: the tenant is
picked with `?tenant=<slug>` (links on the list page), remembered in the session, and every view runs —
including template rendering, which Django does lazily — inside that tenant's schema.
"""

from django.contrib import admin
from django.http import HttpResponse

from minirag.tenancy import tenant_context
from tenants.models import Tenant

SESSION_KEY = "admin_tenant_id"


def _tenants():
    return Tenant.objects.exclude(schema_name="public").order_by("slug")


class TenantScopedAdmin(admin.ModelAdmin):
    change_list_template = "admin/tenant_scoped_change_list.html"

    def _current_tenant(self, request) -> Tenant | None:
        slug = request.GET.get("tenant")
        if slug:
            chosen = _tenants().filter(slug=slug).first()
            if chosen is not None:
                request.session[SESSION_KEY] = str(chosen.id)
            request.GET = request.GET.copy()
            request.GET.pop("tenant", None)
        tenant_id = request.session.get(SESSION_KEY)
        tenant = _tenants().filter(pk=tenant_id).first() if tenant_id else None
        return tenant or _tenants().first()

    def _in_tenant(self, request, view, *args, extra_context=None, **kwargs):
        tenant = self._current_tenant(request)
        if tenant is None:
            return HttpResponse("No tenants yet.", content_type="text/plain")
        context = {**(extra_context or {}), "admin_tenant": tenant, "admin_tenants": list(_tenants()[:200])}
        with tenant_context(tenant):
            response = view(request, *args, extra_context=context, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    def changelist_view(self, request, extra_context=None):
        return self._in_tenant(request, super().changelist_view, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._in_tenant(request, super().change_view, object_id, form_url, extra_context=extra_context)

    def history_view(self, request, object_id, extra_context=None):
        return self._in_tenant(request, super().history_view, object_id, extra_context=extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._in_tenant(request, super().delete_view, object_id, extra_context=extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deletion is soft and has side effects (vectors): only through the services (actions).
        return False
