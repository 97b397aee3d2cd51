from rest_framework import serializers

from minirag.api.fields import TenantIdField
from tenants.webhooks.models import Webhook, WebhookDelivery


class WebhookReadSerializer(serializers.ModelSerializer):
    tenant_id = TenantIdField()
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "tenant_id",
            "url",
            "events",
            "is_active",
            "description",
            "has_secret",
            "created_at",
            "updated_at",
        ]


class WebhookCreatedSerializer(WebhookReadSerializer):
    secret = serializers.CharField(help_text="The signing secret, returned only this once")

    class Meta(WebhookReadSerializer.Meta):
        fields = [*WebhookReadSerializer.Meta.fields, "secret"]


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, trim_whitespace=True)
    events = serializers.ListField(child=serializers.CharField(max_length=50), max_length=10)
    description = serializers.CharField(max_length=500, allow_blank=True, default="")
    secret = serializers.CharField(
        min_length=16,
        max_length=256,
        required=False,
        allow_null=True,
        trim_whitespace=False,
        help_text="Generated (32 random bytes, URL-safe) when absent",
    )


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, trim_whitespace=True, required=False)
    events = serializers.ListField(child=serializers.CharField(max_length=50), max_length=10, required=False)
    description = serializers.CharField(max_length=500, allow_blank=True, required=False)
    is_active = serializers.BooleanField(required=False)


class WebhookTestResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    message = serializers.CharField(help_text="Generic; never the target's response or network details")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "delivery_id",
            "event",
            "payload",
            "attempt",
            "success",
            "status_code",
            "duration_ms",
            "error",
            "next_attempt_at",
            "created_at",
        ]
