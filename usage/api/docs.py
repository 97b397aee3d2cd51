"""What `/v1/schema` says about the statistics (`/v1/stats`: usage, cost, feedback) and `/v1/tenants/me` (applied
in usage.api.views and, for the statistics that combine several apps' numbers, chat.api.stats)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from minirag.api.docs import ANY_MEMBER, operation_description
from tenants.api.docs import TENANT

BOT_ID = "77c664e1-a549-492b-8f21-040d28ddfcef"
_DAYS_422 = (422, "`days` outside 1–3650, or a malformed `bot_profile_id`")
_ALL_TIME = "`days` limits it to the last N days (24-hour periods ending now); without it, all time."
_LAST_30 = "`days` (default 30) is the window: the last N days, ending now."
_USAGE = (
    "Usage counts every model call made for your tenant: answers, embeddings of your knowledge and questions, "
    "question rewrites, reranking and chat titles. Costs are in USD, as recorded when each call was made."
)

MODEL_ROW = {
    "model": "gpt-4o-mini",
    "prompt_tokens": 18200,
    "completion_tokens": 3100,
    "total_tokens": 21300,
    "request_count": 42,
    "cost_usd": 0.00459,
    "prompt_cost_per_1m": 0.15,
    "completion_cost_per_1m": 0.6,
}
BOT_ROW = {
    "bot_profile_id": BOT_ID,
    "bot_name": "Support",
    "model": "gpt-4o-mini",
    "prompt_tokens": 18200,
    "completion_tokens": 3100,
    "total_tokens": 21300,
    "request_count": 42,
    "cost_usd": 0.00459,
}

overview_docs = extend_schema_view(
    get=extend_schema(
        summary="Get your tenant's totals",
        description=operation_description(
            "How many active bots and sources (deactivated ones are not counted) and conversations your tenant "
            "has, and the tokens used in all time.",
            who=ANY_MEMBER,
        ),
        examples=[
            OpenApiExample(
                "Totals",
                value={
                    "bot_profiles": 2,
                    "sources": 14,
                    "chats": 9,
                    "total_prompt_tokens": 18200,
                    "total_completion_tokens": 3100,
                    "total_tokens": 21300,
                },
                response_only=True,
            )
        ],
    )
)

usage_docs = extend_schema_view(
    get=extend_schema(
        summary="Get daily token usage per model",
        description=operation_description(
            "Tokens and calls per day (UTC) and model, newest day first. " + _ALL_TIME,
            who=ANY_MEMBER,
            notes=[_USAGE],
            answers=[_DAYS_422],
        ),
        examples=[
            OpenApiExample(
                "A day",
                value={
                    "date": "2026-03-02",
                    "model": "gpt-4o-mini",
                    "prompt_tokens": 12000,
                    "completion_tokens": 2100,
                    "total_tokens": 14100,
                    "request_count": 30,
                },
                response_only=True,
            )
        ],
    )
)

usage_by_bot_docs = extend_schema_view(
    get=extend_schema(
        summary="Get token usage and cost per bot",
        description=operation_description(
            "Tokens, calls and cost per bot and model, the largest total first. Calls that belong to no bot have "
            "`bot_profile_id` and `bot_name` null. " + _ALL_TIME,
            who=ANY_MEMBER,
            notes=[_USAGE],
            answers=[_DAYS_422],
        ),
        examples=[OpenApiExample("Bot", value=BOT_ROW, response_only=True)],
    )
)

usage_by_model_docs = extend_schema_view(
    get=extend_schema(
        summary="Get token usage and cost per model",
        description=operation_description(
            "Tokens, calls and cost per model, the largest total first, with each model's current price per "
            "million prompt and completion tokens. " + _ALL_TIME,
            who=ANY_MEMBER,
            notes=[_USAGE],
            answers=[_DAYS_422],
        ),
        examples=[OpenApiExample("Model", value=MODEL_ROW, response_only=True)],
    )
)

cost_estimate_docs = extend_schema_view(
    get=extend_schema(
        summary="Estimate your costs",
        description=operation_description(
            "The cost over the window, the average per day that had usage (`active_days`), that average "
            "projected over 30 days, and the breakdowns per model and per bot. " + _LAST_30,
            who=ANY_MEMBER,
            notes=[_USAGE],
            answers=[_DAYS_422],
        ),
        examples=[
            OpenApiExample(
                "Last 30 days",
                value={
                    "total_cost_usd": 0.00459,
                    "daily_avg_cost_usd": 0.002295,
                    "projected_monthly_usd": 0.07,
                    "active_days": 2,
                    "by_model": [MODEL_ROW],
                    "by_bot": [BOT_ROW],
                },
                response_only=True,
            )
        ],
    )
)

pricing_docs = extend_schema_view(
    get=extend_schema(
        summary="Get model prices",
        description=operation_description(
            "The price in USD per million prompt and completion tokens of every model the server knows, and "
            "the `default` price used for models it does not know.",
            who=ANY_MEMBER,
        ),
        examples=[
            OpenApiExample(
                "Prices",
                value={
                    "models": {
                        "gpt-4o-mini": {"prompt_cost_per_1m": 0.15, "completion_cost_per_1m": 0.6},
                        "text-embedding-3-small": {"prompt_cost_per_1m": 0.02, "completion_cost_per_1m": 0.0},
                    },
                    "default": {"prompt_cost_per_1m": 1.0, "completion_cost_per_1m": 3.0},
                },
                response_only=True,
            )
        ],
    )
)

feedback_docs = extend_schema_view(
    get=extend_schema(
        summary="Get a summary of answer ratings",
        description=operation_description(
            "How many answers were given in the window, how many were rated positive or negative, and the "
            "share of rated answers (`feedback_rate`, in percent), overall and per bot. `bot_profile_id` keeps "
            "one bot. " + _LAST_30,
            who=ANY_MEMBER,
            answers=[_DAYS_422],
        ),
        examples=[
            OpenApiExample(
                "Ratings",
                value={
                    "total_messages": 40,
                    "total_with_feedback": 10,
                    "positive_count": 8,
                    "negative_count": 2,
                    "feedback_rate": 25.0,
                    "by_bot": [
                        {
                            "bot_profile_id": BOT_ID,
                            "bot_name": "Support",
                            "positive_count": 8,
                            "negative_count": 2,
                            "total_messages": 40,
                            "feedback_rate": 25.0,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
)

feedback_trend_docs = extend_schema_view(
    get=extend_schema(
        summary="Get answer ratings per day",
        description=operation_description(
            "Answers and their positive and negative ratings per day (UTC), oldest day first; days without "
            "answers are left out. `bot_profile_id` keeps one bot. " + _LAST_30,
            who=ANY_MEMBER,
            answers=[_DAYS_422],
        ),
        examples=[
            OpenApiExample(
                "A day",
                value={"date": "2026-03-02", "positive_count": 5, "negative_count": 1, "total_messages": 25},
                response_only=True,
            )
        ],
    )
)

tenant_me_docs = extend_schema_view(
    get=extend_schema(
        summary="Get your tenant, its plan and quota use",
        description=operation_description(
            "Your tenant (the one your credential belongs to) with its plan and, for each quota of the plan, "
            "what is used and the limit (`null` = unlimited). `tokens_per_month` and `chat_requests_per_day` "
            "count the current calendar month or day (UTC); the other quotas count what is stored now.",
            who=ANY_MEMBER,
        ),
        examples=[
            OpenApiExample(
                "Free plan",
                value={
                    **TENANT,
                    "quotas": {
                        "tokens_per_month": {"used": 18200, "limit": 2000000},
                        "chat_requests_per_day": {"used": 12, "limit": 1000},
                        "sources": {"used": 12, "limit": 200},
                        "chunks": {"used": 840, "limit": 100000},
                        "upload_bytes": {"used": 2400000, "limit": 1073741824},
                        "bots": {"used": 2, "limit": 10},
                    },
                },
                response_only=True,
            )
        ],
    )
)
