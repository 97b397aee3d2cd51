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
from minirag.api.origins import MAX_ORIGIN_CHARS
from minirag.errors import InvalidInput
from minirag.integrations import rerank
from minirag.netguard import UnsafeURLError, validate_url_syntax
from tenants.models import PublishableKey
from tenants.publishable_keys import MAX_ALLOWED_ORIGINS, normalise_origins


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


# --- Publishable keys (tenants.models.PublishableKey: public schema; the bot they name is checked here) -------


class PublishableKeyReadSerializer(serializers.ModelSerializer):
    """A publishable key without its secret: only `key_prefix` (the first characters) is ever shown again."""

    created_by_id = serializers.UUIDField(read_only=True, help_text="The user who issued the key")

    class Meta:
        model = PublishableKey
        fields = [
            "id",
            "tenant_id",
            "bot_profile_id",
            "name",
            "allowed_origins",
            "key_prefix",
            "is_active",
            "created_by_id",
            "created_at",
            "last_used_at",
        ]
        read_only_fields = fields


class PublishableKeyCreatedSerializer(PublishableKeyReadSerializer):
    key = serializers.CharField(help_text="The raw key (pk_…), shown only once")
    share_url = serializers.CharField(
        help_text="The hosted chat page; the key travels in the link's #fragment, which browsers never send"
    )

    class Meta(PublishableKeyReadSerializer.Meta):
        fields = [*PublishableKeyReadSerializer.Meta.fields, "key", "share_url"]


def _origins(value: list[str]) -> list[str]:
    try:
        return normalise_origins(value)
    except InvalidInput as error:
        raise serializers.ValidationError(str(error.detail)) from None


_ORIGINS_HELP = (
    'Web origins ("https://shop.example", "http://localhost:8080") whose pages may use the key; '
    "MiniRAG's own origin (the hosted chat page) is always allowed"
)


class PublishableKeyCreateSerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField()
    name = serializers.CharField(max_length=255)
    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=MAX_ORIGIN_CHARS),
        max_length=MAX_ALLOWED_ORIGINS,
        default=list,
        help_text=_ORIGINS_HELP,
    )

    def validate_bot_profile_id(self, value):
        if not BotProfile.objects.filter(pk=value).exists():
            raise serializers.ValidationError("Bot profile not found or belongs to a different tenant")
        return value

    def validate_allowed_origins(self, value):
        return _origins(value)


class PublishableKeyUpdateSerializer(serializers.Serializer):
    """Only the fields sent are changed."""

    name = serializers.CharField(max_length=255, required=False)
    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=MAX_ORIGIN_CHARS),
        max_length=MAX_ALLOWED_ORIGINS,
        required=False,
        help_text=_ORIGINS_HELP,
    )
    is_active = serializers.BooleanField(required=False, help_text="false pauses the key; true resumes it")

    def validate_allowed_origins(self, value):
        return _origins(value)


class PublishableKeyListQuerySerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField(required=False)
