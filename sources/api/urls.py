from django.urls import path
from rest_framework.routers import SimpleRouter

from sources.api import search, views

router = SimpleRouter(trailing_slash=False)
router.register("sources", views.SourceViewSet, basename="source")

urlpatterns = [
    *router.urls,
    # Under bot-profiles, but here: sources may import bots, bots may not import sources.
    path("bot-profiles/<uuid:id>/search", search.BotSearchView.as_view(), name="bot-profile-search"),
]
