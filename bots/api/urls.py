from rest_framework.routers import SimpleRouter

from bots.api import views

router = SimpleRouter(trailing_slash=False)
router.register("bot-profiles", views.BotProfileViewSet, basename="bot-profile")
# Publishable keys are stored with the tenant's credentials (public schema) but name a bot: their API is here.
router.register("publishable-keys", views.PublishableKeyViewSet, basename="publishable-key")

urlpatterns = [*router.urls]
