"""What `/v1/schema` says about chatting, conversations, feedback and exports (applied in chat.api.views)."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view

from minirag.api.docs import ANY_MEMBER, LIST_PAGING, operation_description

BOT_ID = "77c664e1-a549-492b-8f21-040d28ddfcef"
CHAT_ID = "0fb1bdcf-2cdf-4b6d-8cdf-7ad68082bd8c"
TENANT_ID = "edc01c67-8001-4e15-87f3-962ae21da73a"
SOURCE_ID = "68b491bc-9e21-49c0-b328-392dd767a220"
# The chat routes a publishable key (pk_…, for web pages) may call, always for its own bot and conversations.
_KEY_ASKS = (
    " Also a publishable key (`pk_…`), from one of its allowed origins: it asks its own bot (`bot_profile_id` "
    "may then be left out; another bot answers 403) and continues only the conversations it started."
)
_KEY_READS = " Also a publishable key (`pk_…`), for the conversations it started (any other answers 404)."

CITED = {
    "chunk_id": "31b3f77d-b093-5325-a5f0-99a5af46e0b9",
    "content": "Refunds are paid within 5 business days.",
    "score": 0.8123,
    "source_id": SOURCE_ID,
    "source_name": "Refund policy",
    "page": None,
    "section": "Billing › Refunds",
}
QUESTION = {
    "id": "99270fbf-cbbf-4da1-8983-b4b16ed66ca7",
    "chat_id": CHAT_ID,
    "role": "user",
    "content": "How long do refunds take?",
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "feedback": None,
    "is_complete": True,
    "sources": [],
    "created_at": "2026-03-02T10:44:54.226063Z",
}
ANSWER = {
    "id": "d8fea00c-f018-4ada-bd0c-a56130cfd422",
    "chat_id": CHAT_ID,
    "role": "assistant",
    "content": "Refunds are paid within 5 business days [1].",
    "prompt_tokens": 342,
    "completion_tokens": 12,
    "feedback": None,
    "is_complete": True,
    "sources": [CITED],
    "created_at": "2026-03-02T10:44:55.230898Z",
}
USAGE = {"model": "gpt-4o-mini", "prompt_tokens": 342, "completion_tokens": 12, "total_tokens": 354}
CHAT = {
    "id": CHAT_ID,
    "tenant_id": TENANT_ID,
    "bot_profile_id": BOT_ID,
    "title": "How long do refunds take?",
    "message_count": 2,
    "total_prompt_tokens": 342,
    "total_completion_tokens": 12,
    "created_at": "2026-03-02T10:44:54.224295Z",
    "updated_at": "2026-03-02T10:44:55.319517Z",
}
EXPORTED_AT = "2026-03-03T09:00:00.000000Z"
STREAM = (
    "event: sources\n"
    'data: {"sources": [{"chunk_id": "31b3f77d-b093-5325-a5f0-99a5af46e0b9", "content": "Refunds are paid within '
    '5 business days.", "score": 0.8123, "source_id": "68b491bc-9e21-49c0-b328-392dd767a220", "source_name": '
    '"Refund policy", "page": null, "section": "Billing › Refunds"}]}\n'
    "\n"
    "event: delta\n"
    'data: {"content": "Refunds are paid "}\n'
    "\n"
    ": keep-alive\n"
    "\n"
    "event: delta\n"
    'data: {"content": "within 5 business days [1]."}\n'
    "\n"
    "event: done\n"
    'data: {"chat_id": "0fb1bdcf-2cdf-4b6d-8cdf-7ad68082bd8c", "message_id": "d8fea00c-f018-4ada-bd0c-a56130cfd422", '
    '"usage": {"model": "gpt-4o-mini", "prompt_tokens": 342, "completion_tokens": 12, "total_tokens": 354}}\n'
    "\n"
)
STREAM_ERROR = (
    'event: sources\ndata: {"sources": []}\n\nevent: delta\ndata: {"content": "Refunds "}\n\n'
    'event: error\ndata: {"detail": "LLM request timed out"}\n\n'
)
CSV_ONE = (
    "message_id,role,content,feedback,prompt_tokens,completion_tokens,created_at\r\n"
    "99270fbf-cbbf-4da1-8983-b4b16ed66ca7,user,How long do refunds take?,,0,0,2026-03-02T10:44:54.226063+00:00\r\n"
    "d8fea00c-f018-4ada-bd0c-a56130cfd422,assistant,Refunds are paid within 5 business days [1].,positive,342,12,"
    "2026-03-02T10:44:55.230898+00:00\r\n"
)

_SSE = """
**Streaming** (`"stream": true`): the answer comes as server-sent events, `Content-Type: text/event-stream`.
Each event is an `event: <name>` line, a `data: <JSON>` line and an empty line:

- `sources` — first (the list may be empty), before the model is called: `{"sources": [...]}`.
- `delta` — zero or more times, a piece of the answer: `{"content": "..."}`. Concatenate them.
- `done` — once, after the answer, its usage and the chat's counters are stored:
  `{"chat_id", "message_id", "usage": {"model", "prompt_tokens", "completion_tokens", "total_tokens"}}`.
- `error` — instead of `done` when the answer fails (it may even be the only event):
  `{"detail": "..."}`, a fixed message such as `LLM request timed out`; the stream ends.

Lines starting with `:` (`: keep-alive`) are comments sent while the model is silent; skip them. Problems found
before the stream starts (validation, unknown bot or chat, limits) are answered as ordinary JSON errors with their
status code. If you disconnect, what was generated so far is stored with `is_complete: false`.
""".strip()

_EXPORT_FORMAT = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="`csv` for a CSV file; anything else gives JSON (the default)"
)

chat_docs = extend_schema_view(
    get=extend_schema(
        summary="List conversations",
        description=operation_description(
            "Your tenant's conversations, newest first, optionally of one bot (`bot_profile_id`). Every user of "
            "the tenant sees every conversation. The body is a plain JSON array; page with `limit` and `offset`.",
            who=ANY_MEMBER,
        ),
        parameters=[
            OpenApiParameter("limit", int, description=f"1–{settings.API_MAX_PAGE_SIZE}, default 50"),
            OpenApiParameter("offset", int, description="how many conversations to skip"),
        ],
        examples=[OpenApiExample("Conversation", value=CHAT, response_only=True)],
    ),
    post=extend_schema(
        summary="Ask a bot a question (JSON or streamed)",
        description=operation_description(
            "Sends `message` to the bot and returns its answer (`message`), the passages it drew on (`sources`: "
            "`sources[n-1]` is what the answer cites as `[n]`) and the tokens used (`usage`). Omit `chat_id` to "
            "start a conversation; send the `chat_id` of an earlier answer to continue it: the bot then sees the "
            "recent history, so follow-up questions are understood. When the knowledge holds nothing relevant, "
            "the bot answers with its `no_answer_message` and no sources. A bot with `model: extractive` answers "
            "by quoting its knowledge, without an LLM.\n\n"
            f"`message` is 1–{settings.CHAT_MESSAGE_MAX_CHARS} characters. Your message is stored before the "
            "model is called and stays stored if the model fails.",
            who=ANY_MEMBER + _KEY_ASKS,
            notes=[_SSE],
            answers=[
                (200, "the answer, as JSON or as an event stream"),
                (404, "the bot is unknown or deactivated, or `chat_id` is not a conversation with this bot"),
                (
                    429,
                    "a rate limit (per tenant, per bot, or per publishable key and visitor) or your plan's "
                    "`tokens_per_month` or `chat_requests_per_day` quota is reached; `Retry-After` says when to try "
                    "again",
                ),
                (
                    502,
                    "the model provider failed: `LLM authentication failed`, `LLM rate limit exceeded` or "
                    "`LLM provider error` (never the provider's own message)",
                ),
                (504, "the model provider timed out (`LLM request timed out`)"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Ask",
                value={"bot_profile_id": BOT_ID, "message": "How long do refunds take?"},
                request_only=True,
            ),
            OpenApiExample(
                "Follow up, streamed",
                value={
                    "bot_profile_id": BOT_ID,
                    "message": "And for contractors?",
                    "chat_id": CHAT_ID,
                    "stream": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Answer",
                value={"chat_id": CHAT_ID, "message": ANSWER, "sources": [CITED], "usage": USAGE},
                response_only=True,
                status_codes=["200"],
                media_type="application/json",
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
    ),
)

chat_detail_docs = extend_schema_view(
    get=extend_schema(
        summary="Get a conversation",
        description=operation_description(
            "One conversation: its bot, its title (the first 100 characters of the first question; for LLM bots "
            "replaced by a generated title after the first exchange), how many messages it has and the tokens "
            "it used.",
            who=ANY_MEMBER + _KEY_READS,
            answers=[(404, "no such conversation in your tenant")],
        ),
        examples=[OpenApiExample("Conversation", value=CHAT, response_only=True)],
    )
)

chat_messages_docs = extend_schema_view(
    get=extend_schema(
        summary="List a conversation's messages",
        description=operation_description(
            "The conversation's questions and answers, oldest first. An answer cut short (the client left, or "
            "the model failed midway) has `is_complete: false`. " + LIST_PAGING,
            who=ANY_MEMBER + _KEY_READS,
            answers=[(404, "no such conversation in your tenant")],
        ),
        examples=[OpenApiExample("Answer", value=ANSWER, response_only=True)],
    )
)

message_feedback_docs = extend_schema_view(
    patch=extend_schema(
        summary="Rate an answer",
        description=operation_description(
            "Marks an answer `positive` or `negative`; `null` removes the rating. Ratings feed "
            "`GET /v1/stats/feedback`.",
            who=ANY_MEMBER + _KEY_READS,
            answers=[
                (404, "no such conversation, or no such message in it"),
                (422, "the message is a question, not an answer, or the value is not `positive`, `negative` or null"),
            ],
        ),
        examples=[
            OpenApiExample("Thumbs up", value={"feedback": "positive"}, request_only=True),
            OpenApiExample("Remove the rating", value={"feedback": None}, request_only=True),
            OpenApiExample("Rated", value={**ANSWER, "feedback": "positive"}, response_only=True, status_codes=["200"]),
        ],
    )
)

chat_export_docs = extend_schema_view(
    get=extend_schema(
        summary="Export a conversation",
        description=operation_description(
            "The conversation with all its messages, as JSON, or with `format=csv` as a CSV file "
            "(`chat_<id>.csv`; columns `message_id, role, content, feedback, prompt_tokens, completion_tokens, "
            "created_at`).",
            who=ANY_MEMBER,
            answers=[(404, "no such conversation in your tenant")],
        ),
        parameters=[_EXPORT_FORMAT],
        examples=[
            OpenApiExample(
                "JSON",
                value={"chat": CHAT, "messages": [QUESTION, ANSWER], "exported_at": EXPORTED_AT},
                response_only=True,
                media_type="application/json",
            ),
            OpenApiExample("CSV", value=CSV_ONE, response_only=True, media_type="text/csv"),
        ],
    )
)

bulk_export_docs = extend_schema_view(
    get=extend_schema(
        summary="Export conversations",
        description=operation_description(
            "Conversations with their messages, newest first, optionally of one bot and created between "
            "`from_date` and `to_date` (`YYYY-MM-DD`, whole days in UTC, both included). As JSON, or with "
            "`format=csv` as one CSV file (`chats_export.csv`, one row per message, columns `chat_id, "
            "chat_title, message_id, role, content, feedback, prompt_tokens, completion_tokens, created_at`) "
            "that is streamed, so large exports start at once.",
            who=ANY_MEMBER,
            answers=[(422, "a malformed date, `to_date` before `from_date`, or a `limit` below 1")],
        ),
        parameters=[
            _EXPORT_FORMAT,
            OpenApiParameter(
                "limit",
                int,
                description=f"how many conversations, default 100, at most {settings.CHAT_EXPORT_MAX_CHATS}",
            ),
            OpenApiParameter("to_date", OpenApiTypes.DATE, description="the last day included (UTC)"),
            OpenApiParameter("from_date", OpenApiTypes.DATE, description="the first day included (UTC)"),
        ],
        examples=[
            OpenApiExample(
                "JSON",
                value={"chats": [{"chat": CHAT, "messages": [QUESTION, ANSWER]}], "exported_at": EXPORTED_AT},
                response_only=True,
                media_type="application/json",
            )
        ],
    )
)
