from rest_framework import serializers

from bots.models import (
    ANALYZER_LANGUAGES,
    DEFAULT_LANGUAGE,
    DEFAULT_MODEL,
    DEFAULT_NO_ANSWER_MESSAGE,
    DEFAULT_SYSTEM_PROMPT,
    BotProfile,
)
from bots.services import CREDENTIAL_KEYS
from minirag.api.fields import TenantIdField
from minirag.integrations import rerank
from minirag.netguard import UnsafeURLError, validate_url_syntax


class CredentialsSerializer(serializers.Serializer):
    """Write-only provider credentials. Unknown keys are refused so nothing unexpected is stored."""

    api_key = serializers.CharField(required=False, allow_blank=True, max_length=4096, trim_whitespace=True)
    api_base = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2048)
    api_version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100)
    embedding_api_key = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4096)
    rerank_api_key = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4096)
    rerank_api_base = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2048)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(CREDENTIAL_KEYS))
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown credential keys: {', '.join(unknown)}. Allowed: {', '.join(CREDENTIAL_KEYS)}"
                )
        return super().to_internal_value(data)

    def validate_api_base(self, value):
        if value:
            try:
                validate_url_syntax(value)
            except UnsafeURLError as error:
                raise serializers.ValidationError(str(error)) from None
        return value

    validate_rerank_api_base = validate_api_base


class BotProfileCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    model = serializers.CharField(max_length=100, required=False, default=DEFAULT_MODEL)
    embedding_model = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    system_prompt = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, default=DEFAULT_SYSTEM_PROMPT
    )
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, required=False, default=0.7)
    max_tokens = serializers.IntegerField(min_value=1, max_value=128000, required=False, default=1024)
    retrieval_top_k = serializers.IntegerField(min_value=1, max_value=50, required=False, default=5)
    score_threshold = serializers.FloatField(required=False, allow_null=True, default=None)
    language = serializers.ChoiceField(
        choices=ANALYZER_LANGUAGES,
        required=False,
        default=DEFAULT_LANGUAGE,
        help_text="Language of the knowledge: stemming and stop words for search and extractive answers "
        '("none" keeps words as written). Changing it re-indexes the bot\'s sources.',
    )
    no_answer_message = serializers.CharField(
        max_length=1000,
        required=False,
        default=DEFAULT_NO_ANSWER_MESSAGE,
        help_text="The reply when the knowledge base holds nothing relevant enough to answer.",
    )
    rerank_model = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Optional LiteLLM rerank model (e.g. cohere/rerank-english-v3.0) that reorders retrieved passages.",
    )
    credentials = CredentialsSerializer(required=False, allow_null=True)

    def validate_rerank_model(self, value):
        if value:
            problem = rerank.model_problem(value)
            if problem:
                raise serializers.ValidationError(problem)
        return value


class BotProfileUpdateSerializer(BotProfileCreateSerializer):
    """Every create field optional, plus `is_active`; only the fields present are applied."""

    is_active = serializers.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            # Explicit null on a non-nullable field is a 422 here, never a database error.
            if field.field_name not in ("embedding_model", "score_threshold", "credentials", "rerank_model"):
                field.allow_null = False


class BotProfileReadSerializer(serializers.ModelSerializer):
    tenant_id = TenantIdField()
    has_credentials = serializers.BooleanField(read_only=True)

    class Meta:
        model = BotProfile
        fields = [
            "id",
            "tenant_id",
            "name",
            "description",
            "model",
            "embedding_model",
            "system_prompt",
            "temperature",
            "max_tokens",
            "retrieval_top_k",
            "score_threshold",
            "language",
            "no_answer_message",
            "rerank_model",
            "has_credentials",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
