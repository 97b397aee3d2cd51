"""The /v1/stats views that combine several apps' numbers: the overview (bots, sources, chats, tokens), usage and
cost per bot (usage's rows named by bots), and feedback (chat's messages named by bots). They live in chat, the top
layer, which may read every app below it; usage's own statistics are in usage/api/views.py. Their serializers and
docs are usage's (usage/api), which describe all of /v1/stats. Any role of the tenant; a bad `days` answers 422.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from bots.stats import with_bot_names
from chat import stats
from minirag.api.base import TenantAPIView
from usage import selectors as usage_selectors
from usage.api import docs
from usage.api import serializers as s
from usage.api.views import ALL_TIME_DAYS, BOT_FILTER, DAYS_30, query_params


@docs.overview_docs
class OverviewView(TenantAPIView):
    @extend_schema(responses=s.OverviewSerializer, tags=["stats"])
    def get(self, request):
        return Response(stats.stats_overview())


@docs.usage_by_bot_docs
class UsageByBotView(TenantAPIView):
    @extend_schema(parameters=[ALL_TIME_DAYS], responses=s.BotUsageSerializer(many=True), tags=["stats"])
    def get(self, request):
        days = query_params(s.AllTimeDaysQuerySerializer, request)["days"]
        return Response(with_bot_names(usage_selectors.usage_by_bot(days=days)))


@docs.cost_estimate_docs
class CostEstimateView(TenantAPIView):
    @extend_schema(parameters=[DAYS_30], responses=s.CostEstimateSerializer, tags=["stats"])
    def get(self, request):
        estimate = usage_selectors.cost_estimate(days=query_params(s.DaysQuerySerializer, request)["days"])
        return Response(estimate | {"by_bot": with_bot_names(estimate["by_bot"])})


@docs.feedback_docs
class FeedbackView(TenantAPIView):
    @extend_schema(parameters=[DAYS_30, BOT_FILTER], responses=s.FeedbackSummarySerializer, tags=["stats"])
    def get(self, request):
        query = query_params(s.FeedbackQuerySerializer, request)
        return Response(stats.feedback_summary(days=query["days"], bot_profile_id=query["bot_profile_id"]))


@docs.feedback_trend_docs
class FeedbackTrendView(TenantAPIView):
    @extend_schema(parameters=[DAYS_30, BOT_FILTER], responses=s.FeedbackTrendSerializer(many=True), tags=["stats"])
    def get(self, request):
        query = query_params(s.FeedbackQuerySerializer, request)
        return Response(stats.feedback_trend(days=query["days"], bot_profile_id=query["bot_profile_id"]))
