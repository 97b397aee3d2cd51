"""What `/v1/schema` says about bot profiles (applied in bots.api.views)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from bots.models import DEFAULT_MODEL
from minirag.api.docs import ANY_MEMBER, LIST_PAGING, NOT_FOUND, operation_description

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
