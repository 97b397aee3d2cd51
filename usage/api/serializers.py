from rest_framework import serializers

from tenants.api.serializers import TenantReadSerializer
from usage.selectors import DAYS_MAX, DAYS_MIN


def days_field(*, default: int | None) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, allow_null=default is None, default=default, min_value=DAYS_MIN, max_value=DAYS_MAX
    )


class AllTimeDaysQuerySerializer(serializers.Serializer):
    days = days_field(default=None)


class DaysQuerySerializer(serializers.Serializer):
    days = days_field(default=30)


class FeedbackQuerySerializer(DaysQuerySerializer):
    bot_profile_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class OverviewSerializer(serializers.Serializer):
    bot_profiles = serializers.IntegerField()
    sources = serializers.IntegerField()
    chats = serializers.IntegerField()
    total_prompt_tokens = serializers.IntegerField()
    total_completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class _Tokens(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    request_count = serializers.IntegerField()


class DailyUsageSerializer(_Tokens):
    date = serializers.DateField()
    model = serializers.CharField()


class BotUsageSerializer(_Tokens):
    bot_profile_id = serializers.UUIDField(allow_null=True)
    bot_name = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    cost_usd = serializers.FloatField()


class ModelUsageSerializer(_Tokens):
    model = serializers.CharField()
    cost_usd = serializers.FloatField()
    prompt_cost_per_1m = serializers.FloatField()
    completion_cost_per_1m = serializers.FloatField()


class CostEstimateSerializer(serializers.Serializer):
    total_cost_usd = serializers.FloatField()
    daily_avg_cost_usd = serializers.FloatField()
    projected_monthly_usd = serializers.FloatField()
    active_days = serializers.IntegerField()
    by_model = ModelUsageSerializer(many=True)
    by_bot = BotUsageSerializer(many=True)


class PriceSerializer(serializers.Serializer):
    prompt_cost_per_1m = serializers.FloatField()
    completion_cost_per_1m = serializers.FloatField()


class PricingSerializer(serializers.Serializer):
    models = serializers.DictField(child=PriceSerializer())
    default = PriceSerializer()


class BotFeedbackSerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField()
    bot_name = serializers.CharField(allow_null=True)
    positive_count = serializers.IntegerField()
    negative_count = serializers.IntegerField()
    total_messages = serializers.IntegerField()
    feedback_rate = serializers.FloatField()


class FeedbackSummarySerializer(serializers.Serializer):
    total_messages = serializers.IntegerField()
    total_with_feedback = serializers.IntegerField()
    positive_count = serializers.IntegerField()
    negative_count = serializers.IntegerField()
    feedback_rate = serializers.FloatField()
    by_bot = BotFeedbackSerializer(many=True)


class FeedbackTrendSerializer(serializers.Serializer):
    date = serializers.DateField()
    positive_count = serializers.IntegerField()
    negative_count = serializers.IntegerField()
    total_messages = serializers.IntegerField()


class QuotaUsageSerializer(serializers.Serializer):
    used = serializers.IntegerField(help_text="Use in the current period (day or month, UTC) or in total")
    limit = serializers.IntegerField(allow_null=True, help_text="The plan's limit; null = unlimited")


class TenantMeSerializer(TenantReadSerializer):
    quotas = serializers.DictField(
        child=QuotaUsageSerializer(),
        help_text="Per quota of the plan: tokens_per_month, chat_requests_per_day, sources, chunks, upload_bytes, bots",
    )

    class Meta(TenantReadSerializer.Meta):
        fields = [*TenantReadSerializer.Meta.fields, "quotas"]
