from rest_framework.routers import SimpleRouter

from minirag.webhooks.api import views

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [*router.urls]
