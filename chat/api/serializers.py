from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat.models import Chat, Feedback, Message
from minirag.api.fields import TenantIdField


class ChatReadSerializer(serializers.ModelSerializer):
    """A conversation with a bot: its title, size and token totals."""

    tenant_id = TenantIdField()

    class Meta:
        model = Chat
        fields = [
            "id",
            "tenant_id",
            "bot_profile_id",
            "title",
            "message_count",
            "total_prompt_tokens",
            "total_completion_tokens",
            "created_at",
            "updated_at",
        ]


class SourceSerializer(serializers.Serializer):
    chunk_id = serializers.CharField()
    content = serializers.CharField(help_text="The passage's first 200 characters")
    score = serializers.FloatField()
    source_id = serializers.CharField()
    source_name = serializers.CharField()
    page = serializers.IntegerField(allow_null=True, help_text="The page the passage is on (PDFs); null otherwise")
    section = serializers.CharField(help_text='The passage\'s heading path, e.g. "Handbook › IT"; may be empty')


@extend_schema_field(SourceSerializer(many=True))
class MessageSourcesField(serializers.JSONField):
    """The sources an answer cites, as stored with it (`[n]` is `sources[n-1]`; empty for questions). Read as
    stored, so an answer saved before a source field existed still reads (without that field)."""


class MessageReadSerializer(serializers.ModelSerializer):
    sources = MessageSourcesField(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "chat_id",
            "role",
            "content",
            "prompt_tokens",
            "completion_tokens",
            "feedback",
            "is_complete",
            "sources",
            "created_at",
        ]


class ChatRequestSerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField()
    message = serializers.CharField(
        min_length=1, max_length=settings.CHAT_MESSAGE_MAX_CHARS, trim_whitespace=False, allow_blank=False
    )
    chat_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    stream = serializers.BooleanField(required=False, default=False)


class UsageSerializer(serializers.Serializer):
    model = serializers.CharField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatResponseSerializer(serializers.Serializer):
    chat_id = serializers.UUIDField()
    message = MessageReadSerializer()
    sources = SourceSerializer(many=True)
    usage = UsageSerializer()


class ChatListQuerySerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class FeedbackSerializer(serializers.Serializer):
    feedback = serializers.ChoiceField(choices=Feedback.choices, allow_null=True)


class ExportFormatSerializer(serializers.Serializer):
    # Like the reference: only the literal "csv" switches format.
    format = serializers.CharField(required=False, default="json")


class BulkExportQuerySerializer(ExportFormatSerializer):
    bot_profile_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    from_date = serializers.DateField(required=False, allow_null=True, default=None, input_formats=["%Y-%m-%d"])
    to_date = serializers.DateField(required=False, allow_null=True, default=None, input_formats=["%Y-%m-%d"])
    limit = serializers.IntegerField(required=False, default=100, min_value=1)

    def validate(self, attrs):
        if attrs["from_date"] and attrs["to_date"] and attrs["from_date"] > attrs["to_date"]:
            raise serializers.ValidationError({"to_date": ["to_date must not be before from_date"]})
        attrs["limit"] = min(attrs["limit"], settings.CHAT_EXPORT_MAX_CHATS)
        return attrs


class ChatExportSerializer(serializers.Serializer):
    chat = ChatReadSerializer()
    messages = MessageReadSerializer(many=True)
    exported_at = serializers.DateTimeField()


class BulkChatSerializer(serializers.Serializer):
    chat = ChatReadSerializer()
    messages = MessageReadSerializer(many=True)


class BulkExportSerializer(serializers.Serializer):
    chats = BulkChatSerializer(many=True)
    exported_at = serializers.DateTimeField()
