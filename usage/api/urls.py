from django.urls import path

from usage.api import views

# The other /v1/stats paths (overview, usage/by-bot, cost-estimate, feedback) are wired in chat/api/urls.py.
urlpatterns = [
    path("tenants/me", views.TenantMeView.as_view(), name="tenant-me"),
    path("stats/usage", views.UsageView.as_view(), name="stats-usage"),
    path("stats/usage/by-model", views.UsageByModelView.as_view(), name="stats-usage-by-model"),
    path("stats/pricing", views.PricingView.as_view(), name="stats-pricing"),
]
