"""What `/v1/schema` (and `/v1/docs`, `/v1/redoc`) tells API users: the overview, the tag groups, one way of
writing an operation's description, and the project-level (system) endpoints' documentation.

Each app keeps its operations' summaries, descriptions and examples in its own `api/docs.py`; views apply
them with one `@extend_schema_view` decorator per class, so the views stay short. Write for someone calling
the API: what the operation does, who may call it, the answers worth knowing. No implementation notes.

An example of a list answer is one item: the schema shows it inside an array (drf-spectacular wraps it).
"""

from collections.abc import Iterable

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

# --- Who may call --------------------------------------------------------------------------------------------

ANYONE = "anyone; no credential is needed."
ANY_MEMBER = "any user of the tenant (owner, admin or member), with an API token or an access JWT."
OWNERS_AND_ADMINS = "owners and admins of the tenant; a member gets 403."

# --- Shared phrases ----------------------------------------------------------------------------------------

LIST_PAGING = (
    f"The body is a plain JSON array. Page with `limit` (1–{settings.API_MAX_PAGE_SIZE}, larger values are "
    "clamped) and `offset`; the `X-Total-Count` header carries the total number of items."
)
NOT_FOUND = "an unknown id, another tenant's id or a malformed id (the three are indistinguishable)"


def operation_description(
    what: str, *, who: str, answers: Iterable[tuple[int | str, str]] = (), notes: Iterable[str] = ()
) -> str:
    """An operation's description in one shape: what it does, who may call it, its notable answers."""
    parts = [what.strip(), f"**Who may call:** {who}"]
    parts.extend(note.strip() for note in notes)
    answers = list(answers)
    if answers:
        parts.append("**Notable answers:**\n" + "\n".join(f"- `{code}`: {text}" for code, text in answers))
    return "\n\n".join(parts)


# --- The overview ------------------------------------------------------------------------------------------

API_DESCRIPTION = f"""
MiniRAG answers questions from your own knowledge: create a **bot**, give it **sources** (text, web pages,
uploaded files), let them be ingested, then **chat** with the bot — as JSON or as a stream of server-sent
events — and read **stats** about usage, cost and feedback. Each tenant's data is kept apart from every other
tenant's.

## Getting a credential

1. `POST /v1/tenants` creates a tenant, its owner and a first API token (returned once). Servers that close
   public sign-up answer 403; an operator then creates the tenant for you.
2. Send the token on every request: `Authorization: Bearer mrag_…`. Alternatively log in with
   `POST /v1/auth/login` and send the returned access JWT the same way (renew it with `POST /v1/auth/refresh`).

For web pages, a **publishable key** (`pk_…`, `POST /v1/publishable-keys`) is the credential instead: it
can only chat with its bot, from the sites it allows — never put an API token in a page.

The credential decides the tenant. Every id the API returns belongs to your tenant; another tenant's id
answers 404, exactly like an id that does not exist.

## Roles

`owner`, `admin` and `member`. Every user may work with bots, sources, chats and stats. Owners and admins
also manage users and webhooks; only an owner creates or promotes another owner. An API token acts with the
role of the user who created it.

## Answers and errors

- Errors have one shape, `{{"detail": "…"}}`. Request validation answers **422** with
  `{{"detail": [{{"loc": ["body", "name"], "msg": "This field is required.", "type": "value_error.required"}}]}}`.
- `401` missing, invalid, revoked or expired credential · `403` your role (or your plan's quota) does not allow
  it · `404` unknown or foreign id · `409` conflicts with the current state · `413` body too large ·
  `415` unsupported media type · `429` rate limit or quota reached (`Retry-After` says when to retry) ·
  `502`/`504` the LLM provider failed or timed out · `503` a dependency is briefly unavailable; retry.
- Lists return a plain JSON array; `limit` (at most {settings.API_MAX_PAGE_SIZE}) and `offset` page through
  it, and `X-Total-Count` carries the total.
- Timestamps are ISO 8601 in UTC; ids are UUIDs.

## Limits

Requests are rate limited per client (sign-ups and logins), per tenant and bot (chat) and per credential
(other writes). A tenant's plan sets quotas (tokens per month, chat requests per day, sources, chunks,
uploaded bytes, bots); `GET /v1/tenants/me` shows the use of each.
""".strip()

TAGS = [
    {"name": "tenants", "description": "Sign up a tenant and read your own tenant, plan and quota use."},
    {"name": "auth", "description": "Log in with email and password for a JWT, refresh it, see who you are."},
    {"name": "api-tokens", "description": "Long-lived bearer tokens for scripts and integrations."},
    {"name": "users", "description": "The people of a tenant and their roles."},
    {
        "name": "publishable-keys",
        "description": "Public keys for web pages (the chat widget, the hosted chat page): chat with one bot only.",
    },
    {
        "name": "bot-profiles",
        "description": "Bots: the model, prompt, retrieval settings and provider credentials used to answer.",
    },
    {
        "name": "sources",
        "description": "A bot's knowledge: text, web pages and uploaded files, ingested in the background.",
    },
    {"name": "chat", "description": "Ask a bot (JSON or streamed), read conversations, rate answers, export."},
    {"name": "stats", "description": "Usage, estimated cost and answer feedback of your tenant."},
    {
        "name": "webhooks",
        "description": "Signed HTTP notifications when sources are ingested or fail, chats get answers and quotas "
        "fill up.",
    },
    {"name": "system", "description": "Liveness and dependency health."},
]


def describe_api(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the overview and
    the tag groups, in the order a new user meets them."""
    result.setdefault("info", {})["description"] = API_DESCRIPTION
    result["tags"] = TAGS
    return result


# --- System endpoints (minirag.views) ----------------------------------------------------------------------

_SERVICE = {"status": "ok", "version": "18.6", "latency_ms": 2.1}

liveness_docs = extend_schema_view(
    get=extend_schema(
        summary="Check that the server is up",
        description=operation_description(
            'Answers `{"status": "ok"}` as long as the web process runs. It touches no database or other '
            "dependency, so it suits a load balancer's or orchestrator's liveness probe.",
            who=ANYONE,
        ),
        examples=[OpenApiExample("Up", value={"status": "ok"}, response_only=True)],
    )
)

system_health_docs = extend_schema_view(
    get=extend_schema(
        summary="Check the health of the server's dependencies",
        description=operation_description(
            "Checks PostgreSQL, the vector store and Redis and reports each one's status, version and latency. "
            "Always answers 200: `status` is `ok` when every dependency is fine and `degraded` when one is "
            "down (that dependency's `status` is then `error`, with a short `detail`).",
            who=ANYONE,
        ),
        examples=[
            OpenApiExample(
                "All dependencies up",
                value={"status": "ok", "postgres": _SERVICE, "qdrant": _SERVICE, "redis": _SERVICE},
                response_only=True,
            )
        ],
    )
)

system_health_detailed_docs = extend_schema_view(
    get=extend_schema(
        summary="Get detailed health and your tenant's counts",
        description=operation_description(
            "The dependency health of `GET /v1/system/health`, plus the server's uptime, Python version and "
            "platform, your tenant's own counts (`db_stats`: sources by status, chunks, chats, messages, usage "
            "events and tokens; `bot_sources`: sources and chunks per bot) and non-secret configuration flags. "
            "It never shows other tenants' numbers or connection strings.",
            who=ANY_MEMBER,
        ),
        examples=[
            OpenApiExample(
                "Healthy",
                value={
                    "status": "ok",
                    "postgres": _SERVICE,
                    "qdrant": {"status": "ok", "detail": "not used: the knowledge index is in PostgreSQL"},
                    "redis": {"status": "ok", "version": "7.2.4", "latency_ms": 0.4},
                    "uptime_seconds": 86400.0,
                    "python_version": "3.11.7",
                    "platform": "Linux",
                    "db_stats": {
                        "sources_by_status": {"ready": 3, "pending": 1},
                        "total_chunks": 120,
                        "total_messages": 42,
                        "total_chats": 9,
                        "total_usage_events": 21,
                        "total_prompt_tokens": 18200,
                        "total_completion_tokens": 3100,
                    },
                    "bot_sources": [
                        {
                            "bot_profile_id": "77c664e1-a549-492b-8f21-040d28ddfcef",
                            "bot_name": "Support",
                            "model": "gpt-4o-mini",
                            "is_active": True,
                            "source_count": 4,
                            "ready_sources": 3,
                            "total_chunks": 120,
                        }
                    ],
                    "config": {
                        "encryption_configured": True,
                        "jwt_configured": True,
                        "jwt_expire_minutes": 60,
                        "default_llm_model": "gpt-4o-mini",
                        "default_embedding_model": None,
                    },
                },
                response_only=True,
            )
        ],
    )
)
