from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import views

router = SimpleRouter(trailing_slash=False)
router.register("api-tokens", views.ApiTokenViewSet, basename="api-token")
router.register("users", views.UserViewSet, basename="user")

# GET /v1/tenants/me (the tenant with its quota usage) is wired in usage/api/urls.py: quotas are usage's.
urlpatterns = [
    path("tenants", views.TenantBootstrapView.as_view(), name="tenant-bootstrap"),
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    *router.urls,
]
