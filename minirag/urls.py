"""URL configuration.

`public_patterns` answer without a tenant (liveness, health, bootstrap, login, docs, operator console, the chat
widget and hosted chat page);
`tenant_patterns` need a bearer credential, which the tenant middleware has already resolved to a schema.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from minirag import views

public_patterns = [
    path("health", views.LivenessView.as_view(), name="health"),
    path("v1/system/health", views.SystemHealthView.as_view(), name="system-health"),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v1/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    path("", include("chat.public_urls")),  # widget.js and the hosted chat page /c/<key id>
]

tenant_patterns = [
    path("v1/", include("tenants.api.urls")),
    path("v1/", include("bots.api.urls")),
    path("v1/", include("sources.api.urls")),
    path("v1/", include("chat.api.urls")),
    path("v1/", include("usage.api.urls")),
    path("v1/", include("tenants.webhooks.api.urls")),
    path("v1/system/health/detailed", views.SystemHealthDetailedView.as_view(), name="system-health-detailed"),
]

urlpatterns = public_patterns + tenant_patterns

handler400 = "minirag.views.json_bad_request"
handler403 = "minirag.views.json_forbidden"
handler404 = "minirag.views.json_not_found"
handler500 = "minirag.views.json_server_error"
