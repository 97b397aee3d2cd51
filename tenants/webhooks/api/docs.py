"""What `/v1/schema` says about webhooks and their deliveries (applied in tenants.webhooks.api.views)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from minirag.api.docs import ANY_MEMBER, LIST_PAGING, NOT_FOUND, OWNERS_AND_ADMINS, operation_description
from minirag.events import EVENT_TYPES

WRITERS = OWNERS_AND_ADMINS
EVENTS = ", ".join(f"`{event}`" for event in EVENT_TYPES)
WEBHOOK = {
    "id": "3c6f1a9e-2b7d-4e8f-9a01-5d4c3b2a1f00",
    "tenant_id": "edc01c67-8001-4e15-87f3-962ae21da73a",
    "url": "https://hooks.example.com/minirag",
    "events": ["source.ingested", "source.failed"],
    "is_active": True,
    "description": "Ingestion alerts",
    "has_secret": True,
    "created_at": "2026-03-02T11:00:00.000000Z",
    "updated_at": "2026-03-02T11:00:00.000000Z",
}

_RECEIVING = f"""
**What your endpoint receives:** a `POST` with a JSON body — the event's data plus `event`, `delivery_id` and
`timestamp` — and the headers `X-MiniRAG-Event`, `X-MiniRAG-Delivery` (the same on every retry of one event),
`X-MiniRAG-Timestamp` and `X-MiniRAG-Signature`: the hex HMAC-SHA256 of the exact body bytes, keyed with the
webhook's secret. Verify the signature and the signed `timestamp`, and ignore a `delivery_id` you already handled.
Answer 2xx within {settings.WEBHOOK_TIMEOUT_SECONDS:g} seconds; network errors, timeouts, 429 and 5xx answers are
retried with growing delays, {settings.WEBHOOK_MAX_ATTEMPTS} attempts in all.
""".strip()
_URL_RULES = (
    "The URL must be http or https and must not point into a private, loopback or link-local network (unless "
    "the server's operator allows private networks); it is checked again at every delivery. Redirects are not "
    "followed."
)

webhook_docs = extend_schema_view(
    list=extend_schema(
        summary="List webhooks",
        description=operation_description(
            "Your tenant's webhooks, newest first. Secrets are never shown again (`has_secret`). " + LIST_PAGING,
            who=ANY_MEMBER,
        ),
        examples=[OpenApiExample("Webhook", value=WEBHOOK, response_only=True)],
    ),
    create=extend_schema(
        summary="Subscribe a URL to events",
        description=operation_description(
            f"Creates a webhook that receives the chosen events: {EVENTS}. Send your own `secret` (16–256 "
            "characters) or let the server generate one; either way it is returned in this answer only, so "
            "store it to verify signatures.",
            who=WRITERS,
            notes=[_URL_RULES, _RECEIVING],
            answers=[
                (201, "created; `secret` is shown only this once"),
                (422, "a refused or malformed URL, no events, or an unknown event"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Ingestion alerts",
                value={
                    "url": "https://hooks.example.com/minirag",
                    "events": ["source.ingested", "source.failed"],
                    "description": "Ingestion alerts",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**WEBHOOK, "secret": "q3Zp9v0tH2mV7cXr8yLw1nB4kD6sF5gJ0aE2uO9iT7Y"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="Get a webhook",
        description=operation_description(
            "One webhook of your tenant (without its secret).", who=ANY_MEMBER, answers=[(404, NOT_FOUND)]
        ),
        examples=[OpenApiExample("Webhook", value=WEBHOOK, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Change a webhook",
        description=operation_description(
            "Changes only the fields you send: `url`, `events`, `description`, or `is_active` to pause and "
            "resume deliveries. The secret cannot be changed; create a new webhook instead.",
            who=WRITERS,
            notes=[_URL_RULES],
            answers=[(404, NOT_FOUND), (422, "a refused or malformed URL, no events, or an unknown event")],
        ),
        examples=[
            OpenApiExample("Pause", value={"is_active": False}, request_only=True),
            OpenApiExample("Paused", value={**WEBHOOK, "is_active": False}, response_only=True, status_codes=["200"]),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a webhook",
        description=operation_description(
            "Deletes the webhook and its delivery log for good; pending retries are dropped.",
            who=WRITERS,
            answers=[(204, "deleted"), (404, NOT_FOUND)],
        ),
    ),
    test=extend_schema(
        summary="Send a test event",
        description=operation_description(
            "Sends a signed `test.ping` event to the webhook's URL now and reports whether it answered 2xx and "
            "with which status code. The answer never includes the endpoint's response or network details; an "
            "unreachable URL gives `success: false` and `status_code: null`. The attempt shows up in the "
            "delivery log.",
            who=WRITERS,
            answers=[(404, NOT_FOUND)],
        ),
        examples=[
            OpenApiExample(
                "Accepted",
                value={"success": True, "status_code": 204, "message": "The endpoint accepted the test event"},
                response_only=True,
            ),
            OpenApiExample(
                "Unreachable",
                value={"success": False, "status_code": None, "message": "The endpoint could not be reached"},
                response_only=True,
            ),
        ],
    ),
    deliveries=extend_schema(
        summary="List a webhook's delivery attempts",
        description=operation_description(
            "Every attempt to deliver an event to this webhook, newest first (50 by default): the event and its "
            "payload, the attempt number, whether it succeeded, the status code, how long it took, a short "
            "reason when it failed and, when a retry is planned, `next_attempt_at`. Attempts are kept 30 days. "
            + LIST_PAGING,
            who=ANY_MEMBER,
            answers=[(404, NOT_FOUND)],
        ),
        examples=[
            OpenApiExample(
                "A failed attempt, to be retried",
                value={
                    "id": "7d0c1b2a-3948-4576-8a9b-0c1d2e3f4a5b",
                    "webhook_id": WEBHOOK["id"],
                    "delivery_id": "f0e1d2c3-b4a5-4968-8776-5544332211aa",
                    "event": "source.ingested",
                    "payload": {
                        "source_id": "68b491bc-9e21-49c0-b328-392dd767a220",
                        "source_name": "Refund policy",
                        "document_count": 1,
                        "chunk_count": 1,
                    },
                    "attempt": 1,
                    "success": False,
                    "status_code": 503,
                    "duration_ms": 120,
                    "error": "HTTP 503",
                    "next_attempt_at": "2026-03-02T11:05:30.000000Z",
                    "created_at": "2026-03-02T11:05:00.000000Z",
                },
                response_only=True,
            )
        ],
    ),
)
