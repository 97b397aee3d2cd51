"""The OpenAI-compatible API: `/v1/openai/models` and `/v1/openai/chat/completions`.

Existing OpenAI clients and tools talk to a bot by pointing their base URL at `/v1/openai` and using the bot's id
(or unique name) as the model. A completion is a chat turn like `POST /v1/chat`: the bot's retrieval, system prompt
and knowledge apply, the tenant's quotas and the chat rate limits (per tenant and per bot) apply, and the exchange is
stored as a new conversation.

Why one stored conversation per request, holding only the last question and its answer: OpenAI's API is
stateless — every request carries the whole conversation — so storing the earlier turns each time would copy them
once per request and count them again as chat requests (`chat_requests_per_day` counts user messages). The earlier
turns still shape the answer (follow-up retrieval and the prompt's history); the stored exchange gives the answer
its usage row, stats and feedback (`minirag.chat_id` and `minirag.message_id` in the answer).

Publishable keys may call these views (a web page's own OpenAI-style client), but see and use only their bot.
Errors are in OpenAI's shape on these paths (chat.api.openai_format).
"""

from __future__ import annotations

import copy

from django.http import StreamingHttpResponse
from rest_framework.response import Response

from bots.models import BotProfile
from bots.selectors import bot_by_name_or_id, bot_list
from chat import services
from chat.api import openai_docs as docs
from chat.api import openai_format
from chat.api import openai_serializers as s
from chat.api.views import ContentNegotiationLenientMixin
from minirag.api.base import TenantAPIView
from minirag.api.permissions import publishable_bot_id, publishable_key_id
from minirag.api.throttling import ChatBotRateThrottle, ChatTenantRateThrottle
from minirag.errors import InvalidInput, NotFound

MODELS_MAX = 500  # the list has no paging in OpenAI's API; a tenant's bots are far fewer (the `bots` quota)


class ModelNotFound(NotFound):
    openai_code = "model_not_found"

    def __init__(self, model: str, detail: str | None = None):
        shown = model if len(model) <= 100 else f"{model[:100]}…"
        super().__init__(detail or f"The model '{shown}' does not exist or you do not have access to it.")


def bot_for_model(request, model: str) -> BotProfile:
    """The active bot `model` names (its id, or a name no other active bot has); a publishable key sees only its
    own bot. Anything else is ModelNotFound (404 `model_not_found`)."""
    try:
        bot = bot_by_name_or_id(model)
    except NotFound:
        raise ModelNotFound(model) from None
    except InvalidInput:
        raise ModelNotFound(model, f"Several bots are named '{model}'; use the bot's id as the model.") from None
    own = publishable_bot_id(request)
    if own is not None and bot.id != own:
        raise ModelNotFound(model)
    return bot


def model_payload(bot: BotProfile, owner: str) -> dict:
    return {
        "id": str(bot.id),
        "object": "model",
        "created": int(bot.created_at.timestamp()),
        "owned_by": owner,
        "name": bot.name,
    }


class OpenAIView(ContentNegotiationLenientMixin, TenantAPIView):
    """Errors in OpenAI's shape; publishable keys allowed (each view keeps them to their bot)."""

    publishable_key_access = True

    def error_format(self, response, exc):
        return openai_format.error_response(response, exc)


# --- Rate limits: the chat's (per tenant, per bot), with the bot named by `model` ----------------------------


def _requested_bot(request, view) -> BotProfile | None:
    """The bot of the body's `model`, resolved once per request (the view uses it too); None when unknown."""
    if not hasattr(view, "_requested_bot"):
        model = request.data.get("model") if hasattr(request.data, "get") else None
        try:
            view._requested_bot = bot_for_model(request, model) if isinstance(model, str) else None
        except NotFound:
            view._requested_bot = None
    return view._requested_bot


class CompletionTenantThrottle(ChatTenantRateThrottle):
    def applies(self, request, view) -> bool:
        return request.method == "POST"


class CompletionBotThrottle(ChatBotRateThrottle):
    def applies(self, request, view) -> bool:
        return request.method == "POST"

    def ident(self, request, view):
        bot, tenant_id = _requested_bot(request, view), self.tenant_id(request)
        return f"{tenant_id}:{bot.id}" if bot is not None and tenant_id else None  # same budget as POST /v1/chat


# --- Views -----------------------------------------------------------------------------------------------------


@docs.models_docs
class ModelsView(OpenAIView):
    def get(self, request):
        bots = bot_list().filter(is_active=True)
        own = publishable_bot_id(request)
        if own is not None:
            bots = bots.filter(pk=own)
        owner = request.auth.tenant.slug
        return Response({"object": "list", "data": [model_payload(bot, owner) for bot in bots[:MODELS_MAX]]})


@docs.model_detail_docs
class ModelDetailView(OpenAIView):
    def get(self, request, model):
        return Response(model_payload(bot_for_model(request, model), request.auth.tenant.slug))


@docs.completions_docs
class ChatCompletionsView(OpenAIView):
    throttle_classes = [CompletionTenantThrottle, CompletionBotThrottle]

    def post(self, request):
        body = s.ChatCompletionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        bot = _requested_bot(request, self) or bot_for_model(request, data["model"])
        turn = services.chat_turn_start(
            tenant=request.auth.tenant,
            user_id=request.auth.user.id,
            publishable_key_id=publishable_key_id(request),
            bot_id=bot.id,
            message=data["question"],
        )
        turn.history = data["history"]  # the client's conversation, not a stored one (see the module docstring)
        turn.bot = _with_request_settings(turn.bot, temperature=data["temperature"], max_tokens=data["answer_tokens"])
        is_llm = not turn.is_extractive
        completion = openai_format.Completion(model=str(bot.id), answer_tokens=turn.bot.max_tokens if is_llm else None)
        if data["stream"]:
            stream = openai_format.completion_stream(turn, completion, include_usage=data["include_usage"])
            response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        reply = services.chat_reply(turn=turn)
        return Response(
            completion.payload(
                content=reply.message.content,
                usage=reply.usage,
                chat_id=reply.chat.id,
                message_id=reply.message.id,
                sources=reply.sources,
            )
        )


def _with_request_settings(bot: BotProfile, *, temperature: float | None, max_tokens: int | None) -> BotProfile:
    """The bot as this request asks for it, never saved: its own temperature unless one is given, and at most its
    own `max_tokens` (the bot's owner sets the cost ceiling, a client may only lower it)."""
    if temperature is None and max_tokens is None:
        return bot
    adjusted = copy.copy(bot)
    if temperature is not None:
        adjusted.temperature = temperature
    if max_tokens is not None:
        adjusted.max_tokens = min(max_tokens, bot.max_tokens)
    return adjusted
