from rest_framework import serializers

from minirag.api.fields import TenantIdField
from sources.models import RefreshSchedule, Source, SourceType
from sources.selectors import aggregated_view

# The models' own (value, label) pairs, so the schema shares one enum component with the read side.
SOURCE_TYPES = SourceType.choices
SCHEDULES = RefreshSchedule.choices


class SourceCreateSerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField()
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    source_type = serializers.ChoiceField(choices=SOURCE_TYPES)
    config = serializers.DictField(required=False, default=dict)
    content = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    parent_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    refresh_schedule = serializers.ChoiceField(choices=SCHEDULES, required=False, allow_null=True, default=None)
    external_id = serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        trim_whitespace=False,
        help_text="Your stable key for this source (a path, a URL, an id in your system). If an active source of "
        "the same bot already has it, that source is updated instead of a new one created (answer 200, not 201).",
    )


class SourceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    config = serializers.DictField(required=False)
    content = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    is_active = serializers.BooleanField(required=False)
    refresh_schedule = serializers.ChoiceField(choices=SCHEDULES, required=False, allow_null=True)
    external_id = serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        help_text="Set or change the source's key; an empty string or null removes it. A key another active source "
        "of the bot has is refused with 409.",
    )


class SourceUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    bot_profile_id = serializers.UUIDField()
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    parent_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    external_id = serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        trim_whitespace=False,
        help_text="Your stable key for this file. If an active upload source of the same bot already has it, that "
        "source is updated (answer 200): the same bytes change nothing, different bytes replace the file and "
        "re-ingest it.",
    )


class BatchChildSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    source_type = serializers.ChoiceField(choices=SOURCE_TYPES)
    config = serializers.DictField(required=False, default=dict)
    content = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)


class SourceBatchSerializer(serializers.Serializer):
    bot_profile_id = serializers.UUIDField()
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    source_type = serializers.ChoiceField(choices=SOURCE_TYPES, required=False, default=SourceType.URL)
    children = BatchChildSerializer(many=True, allow_empty=True)


def sanitized_config(config: dict) -> dict:
    """Never echo secrets stored in a config (reference: encrypted_token → has_api_token)."""
    clean = dict(config or {})
    if clean.pop("encrypted_token", None):
        clean["has_api_token"] = True
    clean.pop("api_token", None)
    return clean


class SourceReadSerializer(serializers.ModelSerializer):
    tenant_id = TenantIdField()
    bot_profile_id = serializers.UUIDField(read_only=True)
    parent_id = serializers.UUIDField(read_only=True, allow_null=True)
    config = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    chunk_count = serializers.SerializerMethodField()
    children_count = serializers.SerializerMethodField()
    stage = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    crawl_report = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="A crawl source's last crawl (null for other sources): pages kept (new, changed, unchanged), "
        "retired and their URLs, pages fetched, requests, bytes, skipped URLs by reason, errors, sitemaps read, and "
        "`stopped` (the limit that ended it, or null when it reached every page in scope).",
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "tenant_id",
            "bot_profile_id",
            "parent_id",
            "name",
            "description",
            "external_id",
            "source_type",
            "status",
            "stage",
            "progress",
            "config",
            "document_count",
            "chunk_count",
            "error_message",
            "is_active",
            "refresh_schedule",
            "last_refreshed_at",
            "children_count",
            "crawl_report",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _view(self, obj) -> dict:
        cache = self.context.setdefault("_aggregates", {})
        if obj.pk not in cache:
            cache[obj.pk] = aggregated_view(obj)
        return cache[obj.pk]

    def get_config(self, obj) -> dict:
        return sanitized_config(obj.config)

    def get_status(self, obj) -> str:
        return self._view(obj)["status"]

    def get_chunk_count(self, obj) -> int:
        return self._view(obj)["chunk_count"]

    def get_children_count(self, obj) -> int:
        return self._view(obj)["children_count"]

    def get_stage(self, obj) -> str | None:
        return self._view(obj)["stage"]

    def get_progress(self, obj) -> int:
        return self._view(obj)["progress"]


class IngestAcceptedSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()


class IngestChildrenAcceptedSerializer(IngestAcceptedSerializer):
    enqueued = serializers.IntegerField()


class BatchResultSerializer(serializers.Serializer):
    parent = SourceReadSerializer()
    children = SourceReadSerializer(many=True)
