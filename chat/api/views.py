from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from chat import exports, selectors, services
from chat.api import docs
from chat.api import serializers as s
from chat.api.sse import turn_sse
from minirag.api.base import TenantAPIView
from minirag.api.pagination import BoundedListPagination, parse_limit_offset
from minirag.api.permissions import publishable_bot_id, publishable_key_id, require_publishable_bot

CHAT_LIST_DEFAULT_LIMIT = 50
ANSWER_FORMATS = "The answer: JSON, or with `stream: true` server-sent events (`sources`, `delta`…, `done` or `error`)"


class ContentNegotiationLenientMixin:
    """Answer JSON (or our own CSV/SSE) whatever `Accept` or `?format=` say, instead of DRF's 406/404.

    SSE clients send `Accept: text/event-stream`; exports take the reference's `?format=csv`, which DRF would
    otherwise read as a renderer override.
    """

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _event_stream(content) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _chat_body(request) -> dict:
    """The chat request; a publishable key chats with its own bot, so its body may leave `bot_profile_id` out."""
    data = request.data
    bot_id = publishable_bot_id(request)
    if bot_id is not None and hasattr(data, "get") and data.get("bot_profile_id") in (None, ""):
        data = (
            {**data.dict(), "bot_profile_id": bot_id} if hasattr(data, "dict") else {**data, "bot_profile_id": bot_id}
        )
    body = s.ChatRequestSerializer(data=data)
    body.is_valid(raise_exception=True)
    require_publishable_bot(request, body.validated_data["bot_profile_id"])
    return body.validated_data


@docs.chat_docs
class ChatView(ContentNegotiationLenientMixin, TenantAPIView):
    publishable_key_access = frozenset({"POST"})  # a key chats; it never lists the tenant's chats

    @extend_schema(
        parameters=[
            OpenApiParameter("bot_profile_id", OpenApiTypes.UUID),
            OpenApiParameter("limit", int, description="default 50, at most API_MAX_PAGE_SIZE"),
            OpenApiParameter("offset", int),
        ],
        responses=s.ChatReadSerializer(many=True),
        tags=["chat"],
    )
    def get(self, request):
        query = _query(s.ChatListQuerySerializer, request)
        limit, offset = parse_limit_offset(request, default_limit=CHAT_LIST_DEFAULT_LIMIT)
        chats = selectors.chat_list(bot_profile_id=query["bot_profile_id"])[offset : offset + limit]
        return Response(s.ChatReadSerializer(chats, many=True).data)

    @extend_schema(
        request=s.ChatRequestSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(s.ChatResponseSerializer, description=ANSWER_FORMATS),
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description=ANSWER_FORMATS),
        },
        tags=["chat"],
    )
    def post(self, request):
        data = _chat_body(request)
        turn = services.chat_turn_start(
            tenant=request.auth.tenant,
            user_id=request.auth.user.id,
            bot_id=data["bot_profile_id"],
            message=data["message"],
            chat_id=data["chat_id"],
            publishable_key_id=publishable_key_id(request),
        )
        if data["stream"]:
            return _event_stream(turn_sse(turn))
        reply = services.chat_reply(turn=turn)
        return Response(
            {
                "chat_id": str(reply.chat.id),
                "message": s.MessageReadSerializer(reply.message).data,
                "sources": reply.sources,
                "usage": reply.usage,
            }
        )


@docs.chat_detail_docs
class ChatDetailView(ContentNegotiationLenientMixin, TenantAPIView):
    publishable_key_access = True  # a key reads only the chats it started

    @extend_schema(responses=s.ChatReadSerializer, tags=["chat"])
    def get(self, request, chat_id):
        chat = selectors.chat_get(chat_id=chat_id, publishable_key_id=publishable_key_id(request))
        return Response(s.ChatReadSerializer(chat).data)


@docs.chat_messages_docs
class ChatMessagesView(ContentNegotiationLenientMixin, TenantAPIView):
    pagination_class = BoundedListPagination
    publishable_key_access = True  # a key reads only the chats it started

    @extend_schema(responses=s.MessageReadSerializer(many=True), tags=["chat"])
    def get(self, request, chat_id):
        chat = selectors.chat_get(chat_id=chat_id, publishable_key_id=publishable_key_id(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.message_list(chat=chat), request, self)
        return paginator.get_paginated_response(s.MessageReadSerializer(page, many=True).data)


@docs.message_feedback_docs
class MessageFeedbackView(ContentNegotiationLenientMixin, TenantAPIView):
    publishable_key_access = True  # the widget's thumbs, on the chats the key started

    @extend_schema(request=s.FeedbackSerializer, responses=s.MessageReadSerializer, tags=["chat"])
    def patch(self, request, chat_id, message_id):
        body = s.FeedbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.message_feedback_set(
            chat_id=chat_id,
            message_id=message_id,
            feedback=body.validated_data["feedback"],
            publishable_key_id=publishable_key_id(request),
        )
        return Response(s.MessageReadSerializer(message).data)


@docs.chat_export_docs
class ChatExportView(ContentNegotiationLenientMixin, TenantAPIView):
    @extend_schema(
        operation_id="chat_export_one",
        parameters=[OpenApiParameter("format", str, enum=["json", "csv"])],
        responses={(200, "application/json"): s.ChatExportSerializer, (200, "text/csv"): OpenApiTypes.STR},
        tags=["chat"],
    )
    def get(self, request, chat_id):
        query = _query(s.ExportFormatSerializer, request)
        chat = selectors.chat_get(chat_id=chat_id)
        if query["format"] == "csv":
            response = HttpResponse(exports.chat_csv(chat=chat), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f"attachment; filename=chat_{chat.id}.csv"
            return response
        return Response(
            {
                "chat": s.ChatReadSerializer(chat).data,
                "messages": s.MessageReadSerializer(selectors.message_list(chat=chat), many=True).data,
                "exported_at": exports.exported_at(),
            }
        )


@docs.bulk_export_docs
class BulkExportView(ContentNegotiationLenientMixin, TenantAPIView):
    @extend_schema(
        operation_id="chat_export_bulk",
        parameters=[
            OpenApiParameter("bot_profile_id", OpenApiTypes.UUID),
            OpenApiParameter("from_date", OpenApiTypes.DATE),
            OpenApiParameter("to_date", OpenApiTypes.DATE, description="inclusive (the whole day)"),
            OpenApiParameter("format", str, enum=["json", "csv"]),
            OpenApiParameter("limit", int, description="default 100, at most CHAT_EXPORT_MAX_CHATS"),
        ],
        responses={(200, "application/json"): s.BulkExportSerializer, (200, "text/csv"): OpenApiTypes.STR},
        tags=["chat"],
    )
    def get(self, request):
        query = _query(s.BulkExportQuerySerializer, request)
        filters = {
            "bot_profile_id": query["bot_profile_id"],
            "from_date": query["from_date"],
            "to_date": query["to_date"],
            "limit": query["limit"],
        }
        if query["format"] == "csv":
            response = StreamingHttpResponse(
                exports.bulk_csv_stream(tenant=request.auth.tenant, **filters), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = "attachment; filename=chats_export.csv"
            return response
        chats, by_chat = exports.bulk_json(**filters)
        return Response(
            {
                "chats": [
                    {
                        "chat": s.ChatReadSerializer(chat).data,
                        "messages": s.MessageReadSerializer(by_chat[chat.id], many=True).data,
                    }
                    for chat in chats
                ],
                "exported_at": exports.exported_at(),
            }
        )
