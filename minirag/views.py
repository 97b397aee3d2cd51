"""Project-level endpoints: liveness, dependency health, JSON error pages."""

import sys

from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from minirag.api import docs
from minirag.api.base import TenantAPIView
from minirag.api.exceptions import NESTED_TOO_DEEPLY, unavailable_detail
from minirag.health import detailed_health, system_health


@docs.liveness_docs
class LivenessView(APIView):
    """Static liveness probe: touches no dependency."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("Liveness", {"status": serializers.CharField()}), tags=["system"])
    def get(self, request):
        return Response({"status": "ok"})


class ServiceStatusSerializer(serializers.Serializer):
    # A class, not one shared instance: a field instance bound to several parents documents only the last one.
    status = serializers.ChoiceField(choices=["ok", "error"])
    detail = serializers.CharField(required=False)
    version = serializers.CharField(required=False, allow_null=True)
    latency_ms = serializers.FloatField(required=False)


@docs.system_health_docs
class SystemHealthView(APIView):
    """Dependency health; always 200, "degraded" when any dependency is down."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "SystemHealth",
            {
                "status": serializers.ChoiceField(choices=["ok", "degraded"]),
                "postgres": ServiceStatusSerializer(),
                "qdrant": ServiceStatusSerializer(),
                "redis": ServiceStatusSerializer(),
            },
        ),
        tags=["system"],
    )
    def get(self, request):
        return Response(system_health())


@docs.system_health_detailed_docs
class SystemHealthDetailedView(TenantAPIView):
    """Dependency status plus the caller's tenant's own counts (auth, any role). No global statistics and no
    connection strings."""

    @extend_schema(
        responses=inline_serializer(
            "SystemHealthDetailed",
            {
                "status": serializers.ChoiceField(choices=["ok", "degraded"]),
                "postgres": ServiceStatusSerializer(),
                "qdrant": ServiceStatusSerializer(),
                "redis": ServiceStatusSerializer(),
                "uptime_seconds": serializers.FloatField(),
                "python_version": serializers.CharField(),
                "platform": serializers.CharField(),
                "db_stats": serializers.DictField(),
                "bot_sources": serializers.ListField(child=serializers.DictField()),
                "config": serializers.DictField(),
            },
        ),
        tags=["system"],
    )
    def get(self, request):
        return Response(detailed_health())


def json_not_found(request, exception=None):
    # A path no route matches under the OpenAI-compatible API answers in OpenAI's error shape, as its views do:
    # OpenAI clients read `error.message`, not `detail`.
    if request.path.startswith("/v1/openai/"):
        error = {"message": "Not found", "type": "invalid_request_error", "param": None, "code": "not_found"}
        return JsonResponse({"error": error}, status=404)
    return JsonResponse({"detail": "Not found"}, status=404)


def json_server_error(request):
    """handler500, for errors outside DRF views (middleware, the console): a dependency that cannot be
    reached is still a 503, as in the API's exception handler."""
    error = sys.exc_info()[1]
    detail = unavailable_detail(error)
    if detail is not None:
        return JsonResponse({"detail": detail}, status=503)
    if isinstance(error, RecursionError):
        return JsonResponse({"detail": NESTED_TOO_DEEPLY}, status=400)
    return JsonResponse({"detail": "Internal server error"}, status=500)


def json_bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request"}, status=400)


def json_forbidden(request, exception=None):
    return JsonResponse({"detail": "Permission denied"}, status=403)
