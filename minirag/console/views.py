"""Operator console pages added to the admin by tenants.admin.TenantAdmin.get_urls().

Every page about one tenant reads inside `tenant_context(tenant)` (its own schema), renders there, and is
read-only except for the explicit POST actions, which call services. The admin site's `admin_view`
wrapper (applied in get_urls) refuses anonymous and non-staff users; each view also checks the model
admin's view/change permission.
"""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from minirag.console import selectors, services
from minirag.tenancy import tenant_context
from tenants.models import Tenant

PAGE_SIZE = 50
MAX_MESSAGES = 500
RECENT_USAGE = 100
RECENT_DELIVERIES = 50


class ConsoleViews:
    def __init__(self, model_admin):
        self.model_admin = model_admin
        self.admin_site = model_admin.admin_site

    # --- helpers ------------------------------------------------------------------------------------------

    def _check(self, request, *, change: bool = False) -> None:
        allowed = (
            self.model_admin.has_change_permission(request) if change else self.model_admin.has_view_permission(request)
        )
        if not allowed:
            raise PermissionDenied

    def _tenant(self, tenant_id) -> Tenant:
        return get_object_or_404(Tenant.objects.exclude(schema_name="public"), pk=tenant_id)

    def _context(self, request, tenant: Tenant | None, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model_admin.model._meta,
            "title": title,
            "tenant": tenant,
            "console_links": console_links(tenant) if tenant else None,
            **extra,
        }

    def _render(self, request, tenant: Tenant | None, template: str, context: dict) -> TemplateResponse:
        response = TemplateResponse(request, template, context)
        if tenant is None:
            return response.render()
        # Templates render lazily; render while the connection is still in the tenant's schema.
        with tenant_context(tenant):
            return response.render()

    @staticmethod
    def _page(request, queryset):
        paginator = Paginator(queryset, PAGE_SIZE)
        return paginator.get_page(request.GET.get("p"))

    # --- per-tenant pages ------------------------------------------------------------------------------------

    def sources(self, request, tenant_id):
        """The tenant's sources with re-ingest (selected) and retry-failed actions."""
        tenant = self._tenant(tenant_id)
        if request.method == "POST":
            self._check(request, change=True)
            if request.POST.get("action") == "retry_failed":
                result = services.console_reingest_sources(tenant=tenant, failed_only=True)
            else:
                selected = [value for value in request.POST.getlist("selected") if _is_uuid(value)]
                result = services.console_reingest_sources(tenant=tenant, source_ids=selected)
            _report(request, result)
            return HttpResponseRedirect(request.get_full_path())
        self._check(request)
        from sources.models import Source

        status = request.GET.get("status") or ""
        with tenant_context(tenant):
            queryset = Source.objects.select_related("bot_profile").order_by("-updated_at", "id")
            if status:
                queryset = queryset.filter(status=status)
            page = self._page(request, queryset)
            context = self._context(
                request,
                tenant,
                f"Sources of {tenant.slug}",
                page=page,
                status=status,
                statuses=selectors.STATUSES,
            )
            return self._render(request, tenant, "admin/console/tenant_sources.html", context)

    def chats(self, request, tenant_id):
        tenant = self._tenant(tenant_id)
        self._check(request)
        from bots.models import BotProfile
        from chat.models import Chat

        with tenant_context(tenant):
            page = self._page(request, Chat.objects.order_by("-created_at", "id"))
            bot_names = dict(
                BotProfile.objects.filter(pk__in=[chat.bot_profile_id for chat in page]).values_list("id", "name")
            )
            for chat in page:
                chat.bot_name = bot_names.get(chat.bot_profile_id, "(deleted bot)")
            context = self._context(request, tenant, f"Chats of {tenant.slug}", page=page)
            return self._render(request, tenant, "admin/console/tenant_chats.html", context)

    def chat_detail(self, request, tenant_id, chat_id):
        tenant = self._tenant(tenant_id)
        self._check(request)
        from chat.models import Chat

        with tenant_context(tenant):
            chat = Chat.objects.filter(pk=chat_id).first()
            if chat is None:
                raise Http404("Chat not found")
            total = chat.messages.count()
            messages_ = list(chat.messages.order_by("created_at", "id")[:MAX_MESSAGES])
            context = self._context(
                request,
                tenant,
                chat.title or f"Chat {chat.id}",
                chat=chat,
                chat_messages=messages_,
                truncated=total > MAX_MESSAGES,
                total=total,
            )
            return self._render(request, tenant, "admin/console/tenant_chat.html", context)

    def usage(self, request, tenant_id):
        tenant = self._tenant(tenant_id)
        self._check(request)
        from usage.models import UsageEvent

        since = timezone.now() - selectors.TOKENS_WINDOW
        with tenant_context(tenant):
            recent = UsageEvent.objects.filter(created_at__gte=since)
            by_model = list(
                recent.values("kind", "model")
                .annotate(
                    calls=Count("id"),
                    prompt=Sum("prompt_tokens"),
                    completion=Sum("completion_tokens"),
                    total=Sum("total_tokens"),
                    cost=Sum("cost_usd"),
                )
                .order_by("-total")
            )
            by_day = list(
                recent.annotate(day=TruncDate("created_at"))
                .values("day")
                .annotate(calls=Count("id"), total=Sum("total_tokens"), cost=Sum("cost_usd"))
                .order_by("-day")
            )
            events = list(UsageEvent.objects.order_by("-created_at")[:RECENT_USAGE])
            context = self._context(
                request,
                tenant,
                f"Usage of {tenant.slug} (last 30 days)",
                by_model=by_model,
                by_day=by_day,
                events=events,
            )
            return self._render(request, tenant, "admin/console/tenant_usage.html", context)

    def webhooks(self, request, tenant_id):
        tenant = self._tenant(tenant_id)
        self._check(request)
        from minirag.webhooks.models import Webhook, WebhookDelivery

        with tenant_context(tenant):
            hooks = list(Webhook.objects.annotate(delivery_count=Count("deliveries")).order_by("-created_at"))
            deliveries = list(
                WebhookDelivery.objects.select_related("webhook").order_by("-created_at")[:RECENT_DELIVERIES]
            )
            context = self._context(
                request, tenant, f"Webhooks of {tenant.slug}", webhooks=hooks, deliveries=deliveries
            )
            return self._render(request, tenant, "admin/console/tenant_webhooks.html", context)

    def deactivate(self, request, tenant_id):
        tenant = self._tenant(tenant_id)
        self._check(request, change=True)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
        services.console_tenant_deactivate(tenant=tenant)
        messages.success(request, f"Tenant {tenant.slug} deactivated: its tokens stop working now.")
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    # --- cross-tenant -------------------------------------------------------------------------------------

    def problems(self, request):
        """Failed and stuck ingestions of every tenant, with retry."""
        if request.method == "POST":
            self._check(request, change=True)
            by_tenant: dict[str, list[str]] = {}
            for value in request.POST.getlist("selected"):
                tenant_id, _, source_id = value.partition(":")
                if _is_uuid(tenant_id) and _is_uuid(source_id):
                    by_tenant.setdefault(str(uuid.UUID(tenant_id)), []).append(source_id)
            total = services.RetryResult()
            for tenant in Tenant.objects.filter(pk__in=list(by_tenant)):
                result = services.console_reingest_sources(tenant=tenant, source_ids=by_tenant[str(tenant.pk)])
                total.queued += result.queued
                total.refused.extend(f"{tenant.slug}/{item}" for item in result.refused)
            _report(request, total)
            return HttpResponseRedirect(request.get_full_path())
        self._check(request)
        rows = selectors.failed_and_stuck_sources()
        context = self._context(
            request,
            None,
            "Failed and stuck ingestions",
            rows=rows,
            stuck_minutes=round(_stuck_seconds() / 60),
            now=timezone.now(),
        )
        return self._render(request, None, "admin/console/problems.html", context)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        return False
    return True


def _stuck_seconds() -> int:
    from django.conf import settings

    return settings.INGEST_STUCK_AFTER_SECONDS


def _report(request, result: services.RetryResult) -> None:
    messages.success(request, f"Queued {result.queued} source(s) for ingestion.")
    if result.refused:
        messages.warning(request, "Not queued — " + "; ".join(result.refused[:10]))


def console_links(tenant: Tenant) -> dict[str, str]:
    links = {
        "sources": reverse("admin:tenants_tenant_console_sources", args=[tenant.pk]),
        "chats": reverse("admin:tenants_tenant_console_chats", args=[tenant.pk]),
        "usage": reverse("admin:tenants_tenant_console_usage", args=[tenant.pk]),
        "webhooks": reverse("admin:tenants_tenant_console_webhooks", args=[tenant.pk]),
        "deactivate": reverse("admin:tenants_tenant_console_deactivate", args=[tenant.pk]),
    }
    for name, url_name in (
        ("source_admin", "admin:sources_source_changelist"),
        ("bot_admin", "admin:bots_botprofile_changelist"),
        ("delivery_admin", "admin:webhooks_webhookdelivery_changelist"),
    ):
        try:
            links[name] = f"{reverse(url_name)}?tenant={tenant.slug}"
        except NoReverseMatch:
            pass
    return links
