"""What `/v1/schema` says about bot profiles (applied in bots.api.views)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from bots.models import DEFAULT_MODEL
from minirag.api.docs import ANY_MEMBER, LIST_PAGING, NOT_FOUND, OWNERS_AND_ADMINS, operation_description

BOT = {
    "id": "77c664e1-a549-492b-8f21-040d28ddfcef",
    "tenant_id": "edc01c67-8001-4e15-87f3-962ae21da73a",
    "name": "Support",
    "description": "Answers customer questions from the help centre",
    "model": "gpt-4o-mini",
    "embedding_model": "text-embedding-3-small",
    "system_prompt": "You are a helpful assistant.",
    "temperature": 0.7,
    "max_tokens": 1024,
    "retrieval_top_k": 5,
    "score_threshold": None,
    "language": "english",
    "no_answer_message": "I couldn't find this in the knowledge base.",
    "rerank_model": None,
    "has_credentials": True,
    "is_active": True,
    "created_at": "2026-03-02T10:44:53.900940Z",
    "updated_at": "2026-03-02T10:44:53.901752Z",
}
EXTRACTIVE_BOT = {
    **BOT,
    "id": "5f0c2a8e-3f7d-4d8a-9a43-1c6b2f0e9d11",
    "name": "Handbook",
    "description": "",
    "model": "extractive",
    "embedding_model": None,
    "language": "french",
    "no_answer_message": "Je ne trouve pas cela dans la base.",
    "has_credentials": False,
}

_CREDENTIALS = (
    "`credentials` are write-only and stored encrypted; answers only say `has_credentials`. Keys: `api_key` "
    "(the chat model's provider key), `api_base` and `api_version` (another endpoint, e.g. Azure or a local "
    "server), `embedding_api_key`, `rerank_api_key` and `rerank_api_base`. Without them the server's own "
    "provider keys are used, if it has any."
)
_MODELS = (
    f"`model` is a LiteLLM model name (default `{DEFAULT_MODEL}`), or `extractive`: answers quote the best "
    "sentences of the bot's knowledge, with citations, without calling any LLM and without a key. "
    "`embedding_model` adds semantic (vector) search to keyword search; without one, search is keyword-only. "
    "`language` sets stemming and stop words for search."
)

bot_profile_docs = extend_schema_view(
    list=extend_schema(
        summary="List bots",
        description=operation_description(
            "Every bot of your tenant, newest first, deactivated ones included. " + LIST_PAGING,
            who=ANY_MEMBER,
        ),
        examples=[OpenApiExample("Bot", value=BOT, response_only=True)],
    ),
    create=extend_schema(
        summary="Create a bot",
        description=operation_description(
            "Creates a bot: the model that answers, its instructions (`system_prompt`, `temperature`, "
            "`max_tokens`), how much knowledge it retrieves per question (`retrieval_top_k`, optional "
            "`score_threshold`, optional `rerank_model`) and what it says when its knowledge holds no answer "
            "(`no_answer_message`). Give it knowledge with `POST /v1/sources`.",
            who=ANY_MEMBER,
            notes=[_MODELS, _CREDENTIALS],
            answers=[
                (201, "created"),
                (403, "your plan's `bots` quota is reached"),
                (422, "invalid field, unknown credential key, unknown rerank model, refused `api_base` URL"),
            ],
        ),
        examples=[
            OpenApiExample(
                "LLM bot with its own key",
                value={
                    "name": "Support",
                    "description": "Answers customer questions from the help centre",
                    "model": "gpt-4o-mini",
                    "embedding_model": "text-embedding-3-small",
                    "credentials": {"api_key": "sk-…"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Bot that needs no key",
                value={
                    "name": "Handbook",
                    "model": "extractive",
                    "language": "french",
                    "no_answer_message": "Je ne trouve pas cela dans la base.",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=BOT, response_only=True, status_codes=["201"]),
        ],
    ),
    retrieve=extend_schema(
        summary="Get a bot",
        description=operation_description(
            "One bot of your tenant, also when deactivated. Its credentials are never returned.",
            who=ANY_MEMBER,
            answers=[(404, NOT_FOUND)],
        ),
        examples=[
            OpenApiExample("LLM bot", value=BOT, response_only=True),
            OpenApiExample("Bot that needs no key", value=EXTRACTIVE_BOT, response_only=True),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a bot",
        description=operation_description(
            "Changes only the fields you send; `is_active` deactivates or reactivates the bot. "
            "`credentials: {}` or `null` removes the stored credentials, a non-empty object replaces them. "
            "Changing `embedding_model` or `language` re-ingests the bot's ingested sources in the background, "
            "since their index must be rebuilt for the new model or language.",
            who=ANY_MEMBER,
            answers=[(404, NOT_FOUND), (422, "invalid field, or `null` for a field that cannot be empty")],
        ),
        examples=[
            OpenApiExample("Make answers more focused", value={"temperature": 0.2}, request_only=True),
            OpenApiExample("Replace the provider key", value={"credentials": {"api_key": "sk-…"}}, request_only=True),
            OpenApiExample("Changed", value={**BOT, "temperature": 0.2}, response_only=True, status_codes=["200"]),
        ],
    ),
    destroy=extend_schema(
        summary="Deactivate a bot",
        description=operation_description(
            "Deactivates the bot (`is_active: false`); nothing is deleted. A deactivated bot cannot be chatted "
            "with (404) and its knowledge stops answering, but its sources and chats are kept. Reactivate it "
            "with `PATCH` and `is_active: true`.",
            who=ANY_MEMBER,
            answers=[(204, "deactivated"), (404, NOT_FOUND)],
        ),
    ),
)

# --- Publishable keys ----------------------------------------------------------------------------------------

PUBLISHABLE_KEY = {
    "id": "3d1f9c9e-7a57-4b0e-9a7e-2f4b8c1d6e20",
    "tenant_id": BOT["tenant_id"],
    "bot_profile_id": BOT["id"],
    "name": "Shop widget",
    "allowed_origins": ["https://shop.example", "http://localhost:8080"],
    "key_prefix": "pk_Zx81QkS0c",
    "is_active": True,
    "created_by_id": "b398cdc1-1451-4aae-b0f9-8ae035db7d02",
    "created_at": "2026-03-02T11:02:10.114021Z",
    "last_used_at": None,
}
_RAW_KEY = "pk_Zx81QkS0cTq2mVb8yN4rLw6eH0jUa5sXo3dGf7iKp9c"
_KEYS_ARE = (
    "A publishable key (`pk_…`) is a public credential for web pages — the chat widget and the hosted chat page. "
    "Sent as `Authorization: Bearer pk_…`, it can only chat with its bot (`POST /v1/chat`, also streamed) and read "
    "and rate the conversations it started; every other endpoint answers 403. Browsers must call from one of its "
    "`allowed_origins` (or from MiniRAG's own pages): a missing or foreign `Origin` answers 403. Requests made "
    "with a key are rate limited per key and per visitor's IP address, and count toward your plan's quotas."
)
_MANAGE = "Any member lists and reads keys; " + OWNERS_AND_ADMINS

publishable_key_docs = extend_schema_view(
    list=extend_schema(
        summary="List publishable keys",
        description=operation_description(
            "Your tenant's publishable keys, newest first, paused ones included (`is_active: false`); "
            "`bot_profile_id` narrows the list to one bot. Only a key's first characters (`key_prefix`) are ever "
            "shown again. " + LIST_PAGING,
            who=ANY_MEMBER,
            notes=[_KEYS_ARE],
        ),
        examples=[OpenApiExample("Key", value=PUBLISHABLE_KEY, response_only=True)],
    ),
    create=extend_schema(
        summary="Create a publishable key for a bot",
        description=operation_description(
            "Issues a key for one of your bots. The raw key (`key`) is in this answer only — the server keeps just "
            "a hash of it. `share_url` opens the hosted chat page for the bot; it carries the key after `#`, a part "
            "of the link browsers never send to a server, so share it like the key itself.\n\n"
            "`allowed_origins` lists the sites that may embed the widget, each as `scheme://host[:port]` "
            "(no path; at most 20). They are stored normalised (lowercase host, default port dropped). An empty "
            "list leaves only the hosted chat page.",
            who=OWNERS_AND_ADMINS,
            notes=[_KEYS_ARE],
            answers=[
                (201, "created; `key` is shown only this once"),
                (422, "an unknown bot, or an entry of `allowed_origins` that is not an origin"),
            ],
        ),
        examples=[
            OpenApiExample(
                "A key for the shop's widget",
                value={
                    "bot_profile_id": BOT["id"],
                    "name": "Shop widget",
                    "allowed_origins": ["https://shop.example", "http://localhost:8080"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={
                    **PUBLISHABLE_KEY,
                    "key": _RAW_KEY,
                    "share_url": f"https://minirag.example.com/c/{PUBLISHABLE_KEY['id']}#{_RAW_KEY}",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="Get a publishable key",
        description=operation_description("One key, without its secret.", who=ANY_MEMBER, answers=[(404, NOT_FOUND)]),
        examples=[OpenApiExample("Key", value=PUBLISHABLE_KEY, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Rename, re-scope, pause or resume a publishable key",
        description=operation_description(
            "Changes the fields sent: `name`, `allowed_origins` (replaces the list) and `is_active` — `false` "
            "pauses the key (its requests answer 401 until it is resumed with `true`). The key itself never "
            "changes; to replace a leaked key, create a new one and delete the old one.",
            who=_MANAGE,
            answers=[(404, NOT_FOUND), (422, "an entry of `allowed_origins` that is not an origin")],
        ),
        examples=[
            OpenApiExample(
                "Allow another site", value={"allowed_origins": ["https://shop.example"]}, request_only=True
            ),
            OpenApiExample(
                "Changed",
                value={**PUBLISHABLE_KEY, "allowed_origins": ["https://shop.example"]},
                response_only=True,
            ),
        ],
    ),
    destroy=extend_schema(
        summary="Delete (revoke) a publishable key",
        description=operation_description(
            "Revokes the key at once and for good: the next request made with it answers 401. The conversations "
            "it started stay.",
            who=_MANAGE,
            answers=[(204, "deleted"), (404, NOT_FOUND)],
        ),
    ),
)
