"""The OpenAI-compatible API's request and response shapes (`/v1/openai/...`).

Requests are validated here and turned into what a chat turn takes: the question (the last message, which must
be the user's) and the history (the earlier user and assistant messages). System and developer messages are
accepted and left out: the bot's own system prompt, knowledge and settings apply, whatever the client sends.
The response serializers only document the answers (the views build them in chat.api.openai_format).
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat.api.serializers import SourceSerializer
from chat.prompts import HistoryItem

MAX_MESSAGES = 200  # a conversation longer than this is cut by the prompt's history budget anyway
ROLES = ("system", "developer", "user", "assistant")
UNSUPPORTED_FIELDS = ("tools", "functions", "tool_choice", "function_call")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
                    "required": ["type", "text"],
                },
            },
        ],
        "nullable": True,
    }
)
class MessageContentField(serializers.Field):
    """A message's `content`: a string, or OpenAI's list of parts of which only `text` parts are understood."""

    default_error_messages = {
        "invalid": "Must be a string or a list of text parts.",
        "part": 'Only text parts ({{"type": "text", "text": "..."}}) are supported.',
        "max_length": "Ensure this field has no more than {max_length} characters.",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        if isinstance(data, str):
            text = data
        elif isinstance(data, list):
            parts = []
            for part in data:
                if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                    self.fail("part")
                parts.append(part["text"])
            text = "\n".join(parts)
        else:
            self.fail("invalid")
        if len(text) > settings.CHAT_MESSAGE_MAX_CHARS:
            self.fail("max_length", max_length=settings.CHAT_MESSAGE_MAX_CHARS)
        return text

    def to_representation(self, value):
        return value


class OpenAIMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = MessageContentField()
    name = serializers.CharField(required=False, max_length=256, help_text="Accepted and ignored")


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


class ChatCompletionRequestSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=255, help_text="A bot's id, or its name when no other bot has it")
    messages = OpenAIMessageSerializer(many=True, min_length=1, max_length=MAX_MESSAGES)
    stream = serializers.BooleanField(required=False, default=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True, default=None)
    temperature = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0, max_value=2)
    max_tokens = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, help_text="At most the bot's own `max_tokens`"
    )
    max_completion_tokens = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, help_text="Same as `max_tokens`"
    )
    n = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=1)
    user = serializers.CharField(required=False, allow_blank=True, max_length=256, help_text="Accepted and ignored")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unsupported = [name for name in UNSUPPORTED_FIELDS if data.get(name)]
            if unsupported:
                raise serializers.ValidationError({unsupported[0]: ["Tools and function calling are not supported."]})
        return super().to_internal_value(data)

    def validate_messages(self, messages: list[dict]) -> list[dict]:
        last = messages[-1]
        if last["role"] != "user" or not (last["content"] or "").strip():
            raise serializers.ValidationError("The last message must be the user's question, with some content.")
        return messages

    def validate(self, attrs: dict) -> dict:
        messages = attrs["messages"]
        attrs["question"] = messages[-1]["content"]
        attrs["history"] = [
            HistoryItem(role=message["role"], content=message["content"])
            for message in messages[:-1]
            if message["role"] in ("user", "assistant") and (message["content"] or "").strip()
        ]
        attrs["include_usage"] = bool((attrs["stream_options"] or {}).get("include_usage"))
        attrs["answer_tokens"] = attrs["max_completion_tokens"] or attrs["max_tokens"]
        return attrs


# --- Answers (documentation) ----------------------------------------------------------------------------------


class OpenAIModelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The bot's id: pass it as `model`")
    object = serializers.CharField(help_text='Always "model"')
    created = serializers.IntegerField(help_text="When the bot was created (Unix time)")
    owned_by = serializers.CharField(help_text="Your tenant's slug")
    name = serializers.CharField(help_text="The bot's name")


class OpenAIModelListSerializer(serializers.Serializer):
    object = serializers.CharField(help_text='Always "list"')
    data = OpenAIModelSerializer(many=True)


class CompletionMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class CompletionChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = CompletionMessageSerializer()
    finish_reason = serializers.CharField(help_text='"stop", or "length" when the answer reached `max_tokens`')
    logprobs = serializers.JSONField(allow_null=True)


class CompletionUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class MiniragExtensionSerializer(serializers.Serializer):
    chat_id = serializers.UUIDField(help_text="The stored conversation (see `GET /v1/chat/{chat_id}`)")
    message_id = serializers.UUIDField(help_text="The stored answer (rate it with the chat API's feedback)")
    sources = SourceSerializer(many=True, help_text="What the answer cites as [1], [2]…")


class ChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text='Always "chat.completion"')
    created = serializers.IntegerField()
    model = serializers.CharField(help_text="The bot's id")
    choices = CompletionChoiceSerializer(many=True)
    usage = CompletionUsageSerializer()
    minirag = MiniragExtensionSerializer(help_text="MiniRAG's additions; OpenAI clients ignore them")


class OpenAIErrorBodySerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorBodySerializer()
