from rest_framework.routers import SimpleRouter

from sources.api import views

router = SimpleRouter(trailing_slash=False)
router.register("sources", views.SourceViewSet, basename="source")

urlpatterns = [*router.urls]
