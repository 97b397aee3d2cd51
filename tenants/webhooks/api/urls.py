from rest_framework.routers import SimpleRouter

from tenants.webhooks.api import views

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [*router.urls]
