"""What `/v1/schema` says about the OpenAI-compatible API (applied in chat.api.openai_views)."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from chat.api import openai_serializers as s
from chat.api.docs import BOT_ID, CHAT_ID, CITED
from minirag.api.docs import operation_description

WHO = (
    "any user of the tenant, with an API token or an access JWT; or a publishable key, which sees and uses only "
    "its own bot (and only from the web origins it allows)."
)
MESSAGE_ID = "d8fea00c-f018-4ada-bd0c-a56130cfd422"
MODEL = {"id": BOT_ID, "object": "model", "created": 1772448293, "owned_by": "acme", "name": "Support"}
COMPLETION_ID = "chatcmpl-5f0c7d2a9b3e4f1a8c6d2e0b7a9f3c1d"
COMPLETION = {
    "id": COMPLETION_ID,
    "object": "chat.completion",
    "created": 1772448295,
    "model": BOT_ID,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Refunds are paid within 5 business days [1]."},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 342, "completion_tokens": 12, "total_tokens": 354},
    "minirag": {"chat_id": CHAT_ID, "message_id": MESSAGE_ID, "sources": [CITED]},
}
_CHUNK = f'"id": "{COMPLETION_ID}", "object": "chat.completion.chunk", "created": 1772448295, "model": "{BOT_ID}"'
STREAM = (
    f'data: {{{_CHUNK}, "choices": [{{"index": 0, "delta": {{"role": "assistant", "content": ""}}, '
    '"finish_reason": null}]}\n\n'
    f'data: {{{_CHUNK}, "choices": [{{"index": 0, "delta": {{"content": "Refunds are paid "}}, '
    '"finish_reason": null}]}\n\n'
    ": keep-alive\n\n"
    f'data: {{{_CHUNK}, "choices": [{{"index": 0, "delta": {{"content": "within 5 business days [1]."}}, '
    '"finish_reason": null}]}\n\n'
    f'data: {{{_CHUNK}, "choices": [{{"index": 0, "delta": {{}}, "finish_reason": "stop"}}], "minirag": '
    f'{{"chat_id": "{CHAT_ID}", "message_id": "{MESSAGE_ID}", "sources": [{{"chunk_id": "{CITED["chunk_id"]}", '
    f'"content": "{CITED["content"]}", "score": 0.8123, "source_id": "{CITED["source_id"]}", "source_name": '
    '"Refund policy", "page": null, "section": "Billing › Refunds"}]}}\n\n'
    f'data: {{{_CHUNK}, "choices": [], "usage": {{"prompt_tokens": 342, "completion_tokens": 12, '
    '"total_tokens": 354}}\n\n'
    "data: [DONE]\n\n"
)
STREAM_ERROR = (
    f'data: {{{_CHUNK}, "choices": [{{"index": 0, "delta": {{"role": "assistant", "content": ""}}, '
    '"finish_reason": null}]}\n\n'
    'data: {"error": {"message": "LLM request timed out", "type": "api_error", "param": null, '
    '"code": "stream_error"}}\n\n'
    "data: [DONE]\n\n"
)
MODEL_NOT_FOUND = {
    "error": {
        "message": "The model 'gpt-4o' does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
}
INVALID_KEY = {
    "error": {
        "message": "Invalid or revoked API token",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}
BAD_REQUEST = {
    "error": {
        "message": "Invalid 'messages': The last message must be the user's question, with some content.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": None,
    }
}

_ERRORS = {
    "401": "Missing, invalid, revoked or expired credential (`invalid_api_key`)",
    "403": "A publishable key used from a web origin it does not allow (`permission_denied`)",
    "404": "No such model: an unknown, deactivated, ambiguous or foreign bot (`model_not_found`)",
    "503": "A dependency is briefly unavailable (`service_unavailable`)",
}
_WRITE_ERRORS = {
    "400": "Invalid request: `param` names the field (`invalid_request_error`)",
    "413": "Request body too large (`request_too_large`)",
    "415": "Unsupported media type (`unsupported_media_type`)",
    "429": "A chat rate limit (`rate_limit_exceeded`) or a quota (`insufficient_quota`); see `Retry-After`",
    "502": "The bot's model provider failed (`upstream_error`)",
    "504": "The bot's model provider timed out (`upstream_timeout`)",
}
# These operations document their own errors, in OpenAI's shape (not the rest of the API's `{"detail"}`).
OWN_ERRORS = {"x-own-error-responses": True}
_ERROR_SHAPE = (
    'Errors are in OpenAI\'s shape, `{"error": {"message", "type", "param", "code"}}`, so OpenAI clients raise '
    "their usual exceptions (e.g. `openai.NotFoundError` for an unknown model, `openai.AuthenticationError` for a "
    "bad key). Request validation answers 400 here, not 422."
)


def _errors(codes: dict, examples: dict | None = None) -> dict:
    examples = examples or {}
    return {
        code: OpenApiResponse(
            s.OpenAIErrorSerializer,
            description=text,
            examples=[OpenApiExample(code, value=examples[code])] if code in examples else [],
        )
        for code, text in codes.items()
    }


models_docs = extend_schema_view(
    get=extend_schema(
        operation_id="openai_models_list",
        summary="List bots as OpenAI models",
        description=operation_description(
            "Your tenant's active bots, in the shape of OpenAI's `GET /v1/models`: pass a bot's `id` as `model` to "
            "`POST /v1/openai/chat/completions`. `name` is the bot's name (it works as `model` too while no other "
            "active bot has it); `owned_by` is your tenant's slug. A publishable key lists only its own bot. "
            "Point an OpenAI client's base URL at `/v1/openai` and its `models.list()` reads this.",
            who=WHO,
            notes=[_ERROR_SHAPE],
        ),
        responses={
            200: s.OpenAIModelListSerializer,
            **_errors({code: text for code, text in _ERRORS.items() if code != "404"}, {"401": INVALID_KEY}),
        },
        extensions=OWN_ERRORS,
        tags=["chat"],
        examples=[OpenApiExample("Models", value={"object": "list", "data": [MODEL]}, response_only=True)],
    )
)

model_detail_docs = extend_schema_view(
    get=extend_schema(
        operation_id="openai_model_get",
        summary="Get a bot as an OpenAI model",
        description=operation_description(
            "One bot in the shape of OpenAI's `GET /v1/models/{model}`, by its id or its name (when no other active "
            "bot has that name).",
            who=WHO,
            notes=[_ERROR_SHAPE],
        ),
        responses={200: s.OpenAIModelSerializer, **_errors(_ERRORS, {"404": MODEL_NOT_FOUND})},
        extensions=OWN_ERRORS,
        tags=["chat"],
        examples=[OpenApiExample("Model", value=MODEL, response_only=True)],
    )
)

_COMPLETIONS = f"""
OpenAI's chat completions, answered by a bot: `model` is the bot's id (or its name, when no other active bot has
it). The last message must be the user's: it is the question. Earlier `user` and `assistant` messages are the
conversation so far — follow-up questions are understood as in `POST /v1/chat`. `system` and `developer` messages
are accepted but do not replace the bot's own system prompt. The bot's knowledge, retrieval settings and model
apply; an `extractive` bot quotes its knowledge without an LLM.

`temperature` (0–2) replaces the bot's for this request; `max_tokens` (or `max_completion_tokens`) can only lower
the bot's own `max_tokens`. `user` is accepted and ignored; `n` must be 1; tools and function calling are not
supported. At most {s.MAX_MESSAGES} messages of at most {settings.CHAT_MESSAGE_MAX_CHARS} characters each.

`usage` counts the tokens of the bot's model call — for `extractive` bots, of the question and quoted passages,
counted locally. The extra `minirag` object carries the stored conversation's `chat_id`, the answer's `message_id`
(for feedback through the chat API) and the cited `sources` (`sources[n-1]` is what the answer cites as `[n]`);
OpenAI clients ignore it. Each request is stored as a new conversation with the question and the answer, counted
in your usage and quotas like `POST /v1/chat`, and limited by the same chat rate limits.
""".strip()

_STREAMING = """
**Streaming** (`"stream": true`): server-sent events as OpenAI sends them, each `data: <JSON>` and an empty line.
The first chunk carries `delta.role`, then one chunk per piece of the answer (`delta.content`), then a chunk with
`finish_reason` (`stop`, or `length` when the answer reached `max_tokens`) and the `minirag` object. With
`"stream_options": {"include_usage": true}` a last chunk with empty `choices` carries `usage`. The stream ends with
`data: [DONE]`. A failure once the stream has started is a `data: {"error": {...}}` event, then `data: [DONE]`.
Lines starting with `:` are keep-alive comments; skip them.
""".strip()

completions_docs = extend_schema_view(
    post=extend_schema(
        operation_id="openai_chat_completions",
        summary="Ask a bot through OpenAI's chat completions",
        description=operation_description(
            _COMPLETIONS, who=WHO, notes=[_STREAMING, _ERROR_SHAPE], answers=[(200, "the answer, JSON or a stream")]
        ),
        request=s.ChatCompletionRequestSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(s.ChatCompletionSerializer, description="The answer"),
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description="The streamed answer"),
            **_errors({**_ERRORS, **_WRITE_ERRORS}, {"400": BAD_REQUEST, "401": INVALID_KEY, "404": MODEL_NOT_FOUND}),
        },
        extensions=OWN_ERRORS,
        tags=["chat"],
        examples=[
            OpenApiExample(
                "Ask",
                value={"model": BOT_ID, "messages": [{"role": "user", "content": "How long do refunds take?"}]},
                request_only=True,
            ),
            OpenApiExample(
                "Follow up, streamed",
                value={
                    "model": "Support",
                    "messages": [
                        {"role": "user", "content": "How long do refunds take?"},
                        {"role": "assistant", "content": "Refunds are paid within 5 business days [1]."},
                        {"role": "user", "content": "And for contractors?"},
                    ],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Answer", value=COMPLETION, response_only=True, status_codes=["200"], media_type="application/json"
            ),
            OpenApiExample(
                "Streamed answer",
                value=STREAM,
                response_only=True,
                status_codes=["200"],
                media_type="text/event-stream",
            ),
            OpenApiExample(
                "Stream that fails midway",
                value=STREAM_ERROR,
                response_only=True,
                status_codes=["200"],
                media_type="text/event-stream",
            ),
        ],
    )
)
