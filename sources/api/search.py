"""`POST /v1/bot-profiles/{id}/search`: the ranked passages a bot's chat would retrieve for a query.

For hit-testing a bot's knowledge and for clients that bring their own LLM. It runs the same retrieval chat
uses (sources.retrieval: the bot's hybrid, threshold and rerank settings) and counts as a `search` usage event.
The path sits under bot-profiles, but the view lives here: sources may import bots, never the reverse.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.response import Response

from minirag.api.base import TenantAPIView
from minirag.api.docs import ANY_MEMBER, NOT_FOUND, operation_description
from sources.retrieval import knowledge_search

SEARCH_TOP_K_MAX = 50
SEARCH_TOP_K_DEFAULT = 5
SEARCH_QUERY_MAX_CHARS = 4000


class SearchRequestSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=SEARCH_QUERY_MAX_CHARS, help_text="What to look for")
    top_k = serializers.IntegerField(
        min_value=1,
        max_value=SEARCH_TOP_K_MAX,
        default=SEARCH_TOP_K_DEFAULT,
        help_text=f"How many passages to return, 1–{SEARCH_TOP_K_MAX}",
    )


class SearchHitSerializer(serializers.Serializer):
    chunk_id = serializers.CharField()
    source_id = serializers.CharField()
    source_name = serializers.CharField()
    content = serializers.CharField(help_text="The whole passage, as the bot's model would read it")
    score = serializers.SerializerMethodField(help_text="Higher is better; the scale depends on the bot's settings")
    page = serializers.IntegerField(allow_null=True, help_text="The page the passage is on (PDFs); null otherwise")
    chunk_index = serializers.IntegerField(help_text="The passage's position in its document, from 0")
    section = serializers.CharField(help_text='The passage\'s heading path, e.g. "Handbook › IT"; may be empty')

    def get_score(self, chunk) -> float:
        return round(float(chunk.score), 6)


# --- What `/v1/schema` says about it -------------------------------------------------------------------------

_HIT = {
    "chunk_id": "31b3f77d-b093-5325-a5f0-99a5af46e0b9",
    "source_id": "68b491bc-9e21-49c0-b328-392dd767a220",
    "source_name": "Refund policy",
    "content": "Refunds are paid within 5 business days. Contractors are refunded by bank transfer.",
    "score": 0.032787,
    "page": None,
    "chunk_index": 0,
    "section": "Billing › Refunds",
}

search_docs = extend_schema_view(
    post=extend_schema(
        operation_id="bot_profile_search",
        summary="Search a bot's knowledge",
        description=operation_description(
            "Returns the passages of the bot's active sources that best match `query`, best first: the same "
            "retrieval a chat with this bot uses (keyword search, combined with semantic search when the bot has "
            "an `embedding_model`, reordered by its `rerank_model` if it has one; its `score_threshold` applies). "
            "Use it to check what a bot will find for a question, or to feed passages to your own model. No "
            "answer is generated.\n\n"
            f"`query` is 1–{SEARCH_QUERY_MAX_CHARS} characters; `top_k` (1–{SEARCH_TOP_K_MAX}, default "
            f"{SEARCH_TOP_K_DEFAULT}) caps how many passages come back — fewer when fewer match. `score` is higher "
            "for better matches; its scale depends on the bot's settings (a reranker's relevance, or the fused "
            "rank score), so compare scores within one answer only. Each search is counted in your usage "
            "statistics (kind `search`), as is the query's embedding when the bot has an embedding model.",
            who=ANY_MEMBER,
            answers=[
                (200, "a JSON array of passages, best first (empty when nothing matches)"),
                (404, f"the bot is deactivated, or {NOT_FOUND}"),
                (422, "`query` is missing, empty or too long, or `top_k` is out of range"),
                (503, "the knowledge index is briefly unavailable; retry"),
            ],
        ),
        request=SearchRequestSerializer,
        responses=SearchHitSerializer(many=True),
        tags=["bot-profiles"],
        examples=[
            OpenApiExample("Search", value={"query": "How long do refunds take?", "top_k": 3}, request_only=True),
            OpenApiExample("Passages", value=_HIT, response_only=True, status_codes=["200"]),
        ],
    )
)


@search_docs
class BotSearchView(TenantAPIView):
    def post(self, request, id):  # `{id}`, like every bot-profiles route
        body = SearchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        chunks = knowledge_search(bot_id=id, query=body.validated_data["query"], top_k=body.validated_data["top_k"])
        return Response(SearchHitSerializer(chunks, many=True).data)
