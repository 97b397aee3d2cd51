from rest_framework.routers import SimpleRouter

from bots.api import views

router = SimpleRouter(trailing_slash=False)
router.register("bot-profiles", views.BotProfileViewSet, basename="bot-profile")

urlpatterns = [*router.urls]
