"""`/v1/stats` views over usage's own data, and `/v1/tenants/me` (the tenant with its quota use). Any role of the
tenant. Validation errors (e.g. `days` outside 1–3650) answer 422.

The /v1/stats views that name bots or count other apps' data (overview, usage by bot, cost estimate, feedback)
are in chat/api/stats.py: usage imports no upper app. The serializers and docs here describe all of /v1/stats.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from minirag.api.base import TenantAPIView
from tenants.api.serializers import TenantReadSerializer
from usage import selectors
from usage.api import docs
from usage.api import serializers as s

ALL_TIME_DAYS = OpenApiParameter("days", int, description="1–3650; omitted = all time")
DAYS_30 = OpenApiParameter("days", int, description="1–3650, default 30")
BOT_FILTER = OpenApiParameter("bot_profile_id", OpenApiTypes.UUID)


def query_params(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


@docs.tenant_me_docs
class TenantMeView(TenantAPIView):
    @extend_schema(responses=s.TenantMeSerializer, tags=["tenants"])
    def get(self, request):
        tenant = request.auth.tenant
        return Response(TenantReadSerializer(tenant).data | {"quotas": selectors.quota_usage(tenant=tenant)})


@docs.usage_docs
class UsageView(TenantAPIView):
    @extend_schema(parameters=[ALL_TIME_DAYS], responses=s.DailyUsageSerializer(many=True), tags=["stats"])
    def get(self, request):
        return Response(selectors.usage_daily(days=query_params(s.AllTimeDaysQuerySerializer, request)["days"]))


@docs.usage_by_model_docs
class UsageByModelView(TenantAPIView):
    @extend_schema(parameters=[ALL_TIME_DAYS], responses=s.ModelUsageSerializer(many=True), tags=["stats"])
    def get(self, request):
        return Response(selectors.usage_by_model(days=query_params(s.AllTimeDaysQuerySerializer, request)["days"]))


@docs.pricing_docs
class PricingView(TenantAPIView):
    @extend_schema(responses=s.PricingSerializer, tags=["stats"])
    def get(self, request):
        return Response(selectors.pricing())
