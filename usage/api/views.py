"""`/v1/stats`: any role of the tenant. Validation errors (e.g. `days` outside 1–3650) answer 422."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from usage import selectors
from usage.api import docs
from usage.api import serializers as s

ALL_TIME_DAYS = OpenApiParameter("days", int, description="1–3650; omitted = all time")
DAYS_30 = OpenApiParameter("days", int, description="1–3650, default 30")
BOT_FILTER = OpenApiParameter("bot_profile_id", OpenApiTypes.UUID)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


@docs.overview_docs
class OverviewView(APIView):
    @extend_schema(responses=s.OverviewSerializer, tags=["stats"])
    def get(self, request):
        return Response(selectors.stats_overview())


@docs.usage_docs
class UsageView(APIView):
    @extend_schema(parameters=[ALL_TIME_DAYS], responses=s.DailyUsageSerializer(many=True), tags=["stats"])
    def get(self, request):
        return Response(selectors.usage_daily(days=_query(s.AllTimeDaysQuerySerializer, request)["days"]))


@docs.usage_by_bot_docs
class UsageByBotView(APIView):
    @extend_schema(parameters=[ALL_TIME_DAYS], responses=s.BotUsageSerializer(many=True), tags=["stats"])
    def get(self, request):
        return Response(selectors.usage_by_bot(days=_query(s.AllTimeDaysQuerySerializer, request)["days"]))


@docs.usage_by_model_docs
class UsageByModelView(APIView):
    @extend_schema(parameters=[ALL_TIME_DAYS], responses=s.ModelUsageSerializer(many=True), tags=["stats"])
    def get(self, request):
        return Response(selectors.usage_by_model(days=_query(s.AllTimeDaysQuerySerializer, request)["days"]))


@docs.cost_estimate_docs
class CostEstimateView(APIView):
    @extend_schema(parameters=[DAYS_30], responses=s.CostEstimateSerializer, tags=["stats"])
    def get(self, request):
        return Response(selectors.cost_estimate(days=_query(s.DaysQuerySerializer, request)["days"]))


@docs.pricing_docs
class PricingView(APIView):
    @extend_schema(responses=s.PricingSerializer, tags=["stats"])
    def get(self, request):
        return Response(selectors.pricing())


@docs.feedback_docs
class FeedbackView(APIView):
    @extend_schema(parameters=[DAYS_30, BOT_FILTER], responses=s.FeedbackSummarySerializer, tags=["stats"])
    def get(self, request):
        query = _query(s.FeedbackQuerySerializer, request)
        return Response(selectors.feedback_summary(days=query["days"], bot_profile_id=query["bot_profile_id"]))


@docs.feedback_trend_docs
class FeedbackTrendView(APIView):
    @extend_schema(parameters=[DAYS_30, BOT_FILTER], responses=s.FeedbackTrendSerializer(many=True), tags=["stats"])
    def get(self, request):
        query = _query(s.FeedbackQuerySerializer, request)
        return Response(selectors.feedback_trend(days=query["days"], bot_profile_id=query["bot_profile_id"]))
