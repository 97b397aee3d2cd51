"""What `/v1/schema` says about sources and their ingestion (applied in sources.api.views)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from minirag.api.docs import ANY_MEMBER, LIST_PAGING, NOT_FOUND, operation_description
from sources.api.docs_crawl import CRAWL_CONFIG, CRAWL_NOTE, CRAWL_REPORT, CRAWL_REQUEST
from sources.pipeline.extract import CODE_LANGUAGES, UPLOAD_KINDS

BOT_ID = "77c664e1-a549-492b-8f21-040d28ddfcef"
TENANT_ID = "edc01c67-8001-4e15-87f3-962ae21da73a"
SOURCE = {
    "id": "68b491bc-9e21-49c0-b328-392dd767a220",
    "tenant_id": TENANT_ID,
    "bot_profile_id": BOT_ID,
    "parent_id": None,
    "name": "Refund policy",
    "description": "",
    "external_id": "",
    "source_type": "text",
    "status": "ready",
    "stage": "done",
    "progress": 100,
    "config": {},
    "document_count": 1,
    "chunk_count": 1,
    "error_message": None,
    "is_active": True,
    "refresh_schedule": None,
    "last_refreshed_at": "2026-03-02T10:44:54.137615Z",
    "children_count": 0,
    "crawl_report": None,
    "created_at": "2026-03-02T10:44:53.920797Z",
    "updated_at": "2026-03-02T10:44:54.137694Z",
}
NEW_SOURCE = {
    **SOURCE,
    "status": "pending",
    "stage": None,
    "progress": 0,
    "document_count": 0,
    "chunk_count": 0,
    "last_refreshed_at": None,
    "updated_at": "2026-03-02T10:44:53.921496Z",
}
URL_SOURCE = {
    **NEW_SOURCE,
    "id": "0d8f4c1e-6b2a-4c39-8f57-2e9a1b7c5d40",
    "name": "Docs",
    "source_type": "url",
    "config": {"url": "https://example.com/docs"},
    "refresh_schedule": "daily",
}
CRAWLED_SITE = {
    **SOURCE,
    "id": "5b0e2f63-3c1d-4e8a-9f27-81d6c4a0b9e2",
    "name": "Help centre",
    "source_type": "url",
    "config": CRAWL_CONFIG,
    "chunk_count": 210,
    "document_count": 0,
    "refresh_schedule": "weekly",
    "children_count": 48,
    "crawl_report": CRAWL_REPORT,
}
UPLOADED = {
    **NEW_SOURCE,
    "id": "7275c62b-7fcc-4284-ba9f-2e58a29ab15f",
    "name": "handbook.pdf",
    "source_type": "upload",
    "stage": "queued",
    "config": {"original_filename": "handbook.pdf", "file_size": 482113},
}
BATCH_PARENT = {
    **NEW_SOURCE,
    "id": "e1952290-a5aa-414a-b23e-9a02f9ed0a4d",
    "name": "Docs site",
    "source_type": "url",
    "children_count": 2,
}
BATCH_CHILDREN = [
    {
        **NEW_SOURCE,
        "id": "b978b989-f883-440e-8e8b-289e1210c4d4",
        "parent_id": BATCH_PARENT["id"],
        "name": "Getting started",
        "source_type": "url",
        "config": {"url": "https://example.com/docs/start"},
    },
    {
        **NEW_SOURCE,
        "id": "c1a7e3d2-90b4-4f6e-a8d5-7b2c4e6f8a10",
        "parent_id": BATCH_PARENT["id"],
        "name": "FAQ",
        "source_type": "url",
        "config": {"url": "https://example.com/docs/faq"},
    },
]

UPLOAD_TYPES = (
    "documents and data: "
    + ", ".join(f"`{extension}`" for extension in sorted(set(UPLOAD_KINDS) - set(CODE_LANGUAGES)))
    + "; source code and configuration, indexed verbatim: "
    + ", ".join(f"`{extension}`" for extension in sorted(CODE_LANGUAGES))
)
UPLOAD_LIMIT_MB = f"{settings.MAX_UPLOAD_BYTES / (1024 * 1024):g} MB"

_LIFECYCLE = (
    "A source's `status` goes `pending` → `processing` → `ready` (or `error`, with a safe `error_message`); while "
    "it is processed, `stage` (`queued`, `extracting`, `chunking`, `embedding`, `indexing`, `done`) and "
    "`progress` (0–100) show how far it got. A parent's `status`, `progress` and `chunk_count` sum up its "
    "active children."
)
_URLS = (
    "URL sources need `config.url` (http or https). Addresses in private, loopback or link-local networks are "
    "refused unless the server's operator allows private networks; every redirect is checked the same way."
)
_EXTERNAL_ID = (
    "`external_id` is your own stable key for a source (a file path, a URL, an id in your system). Sending one "
    "makes the call an upsert: when an active source of the same bot already has that key, that source is "
    "updated (answer 200) instead of a second copy being created — so re-running an import is safe."
)
_REFRESH = "`refresh_schedule` (`none`, `hourly`, `daily`, `weekly`) re-ingests the source on that rhythm."

source_docs = extend_schema_view(
    list=extend_schema(
        summary="List sources",
        description=operation_description(
            "Your tenant's active sources, newest first. By default only top-level sources, each parent summing "
            "up its children; `parent_id` lists one parent's children instead, and `include_children=true` "
            "lists every source flat (then parents are not summed up). `bot_profile_id` keeps one bot's sources. "
            + LIST_PAGING,
            who=ANY_MEMBER,
            notes=[_LIFECYCLE],
            answers=[(422, "a malformed `bot_profile_id` or `parent_id`, or a non-boolean `include_children`")],
        ),
        examples=[OpenApiExample("Web page", value=URL_SOURCE, response_only=True)],
    ),
    create=extend_schema(
        summary="Create a text or URL source",
        description=operation_description(
            "Adds knowledge to a bot: `source_type` `text` with the text in `content`, or `url` with the page in "
            "`config.url`. The source starts `pending` and is not ingested yet: call "
            "`POST /v1/sources/{id}/ingest`. Files go through `POST /v1/sources/upload`, several pages at once "
            "through `POST /v1/sources/batch`, a whole site with `config.crawl` (below). With `parent_id` the "
            "source becomes a child of a top-level source of the same bot (one level only).",
            who=ANY_MEMBER,
            notes=[_EXTERNAL_ID, _URLS, _REFRESH, CRAWL_NOTE],
            answers=[
                (200, "an active source of the bot already had this `external_id`: it was updated"),
                (201, "created, `pending`"),
                (403, "your plan's `sources` or `chunks` quota is reached"),
                (404, "the parent source does not exist in your tenant"),
                (
                    422,
                    "the bot is not your tenant's, a text source without content, a URL source without a usable "
                    "URL, an invalid `config.crawl` (or one on a child source), a parent of another bot or a "
                    "parent that is itself a child",
                ),
            ],
        ),
        examples=[
            OpenApiExample(
                "Text",
                value={
                    "bot_profile_id": BOT_ID,
                    "name": "Refund policy",
                    "source_type": "text",
                    "content": "Refunds are paid within 5 business days. Contact billing@example.com for a refund.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Web page, refreshed daily",
                value={
                    "bot_profile_id": BOT_ID,
                    "name": "Docs",
                    "source_type": "url",
                    "config": {"url": "https://example.com/docs"},
                    "refresh_schedule": "daily",
                },
                request_only=True,
            ),
            OpenApiExample(
                "A whole site, crawled weekly",
                value={"bot_profile_id": BOT_ID, **CRAWL_REQUEST},
                request_only=True,
            ),
            OpenApiExample(
                "Upsert by your own key",
                value={
                    "bot_profile_id": BOT_ID,
                    "name": "guides/refunds.md",
                    "source_type": "text",
                    "content": "Refunds are paid within 5 business days.",
                    "external_id": "guides/refunds.md",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=NEW_SOURCE, response_only=True, status_codes=["201"]),
        ],
    ),
    retrieve=extend_schema(
        summary="Get a source and its ingestion progress",
        description=operation_description(
            "One source of your tenant, deactivated ones included (`is_active: false`). Poll it after an ingest "
            "to follow `status`, `stage` and `progress`.",
            who=ANY_MEMBER,
            notes=[_LIFECYCLE],
            answers=[(404, NOT_FOUND)],
        ),
        examples=[
            OpenApiExample("Ready", value=SOURCE, response_only=True),
            OpenApiExample("A crawled site", value=CRAWLED_SITE, response_only=True),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a source",
        description=operation_description(
            "Changes only the fields you send: `name`, `description`, `config` (replaced as a whole), `content`, "
            "`refresh_schedule`, `is_active`. A new `content` or `config` puts the source back to `pending`; "
            "its current knowledge keeps answering until you ingest it again. `is_active: false` removes its "
            "knowledge (and its children's) from answers at once; `is_active: true` brings it back `pending`.",
            who=ANY_MEMBER,
            notes=[_REFRESH],
            answers=[
                (404, NOT_FOUND),
                (409, "another active source of the bot already has this `external_id`"),
                (422, "invalid field, or a change that leaves the source without content"),
            ],
        ),
        examples=[
            OpenApiExample(
                "New text",
                value={"content": "Refunds are paid within 3 business days."},
                request_only=True,
            ),
            OpenApiExample("Refresh weekly", value={"refresh_schedule": "weekly"}, request_only=True),
            OpenApiExample("Changed", value=NEW_SOURCE, response_only=True, status_codes=["200"]),
        ],
    ),
    destroy=extend_schema(
        summary="Deactivate a source",
        description=operation_description(
            "Deactivates the source and its active children and removes their knowledge from the index, so "
            "the bot stops using it at once. The source stays readable with `is_active: false`; reactivate it "
            "with `PATCH` and `is_active: true`, then ingest it again.",
            who=ANY_MEMBER,
            answers=[(204, "deactivated"), (404, NOT_FOUND)],
        ),
    ),
    children=extend_schema(
        summary="List a source's children",
        description=operation_description(
            "The active children of a parent source (a batch, or sources created with its `parent_id`), oldest "
            "first. A source without children gives `[]`. " + LIST_PAGING,
            who=ANY_MEMBER,
            answers=[(404, NOT_FOUND)],
        ),
        examples=[OpenApiExample("A batch's page", value=BATCH_CHILDREN[0], response_only=True)],
    ),
    ingest=extend_schema(
        summary="Ingest a source",
        description=operation_description(
            "Queues the source for ingestion in the background and answers at once with 202: its text is "
            "extracted (a URL is fetched), cut into chunks and indexed. Follow it with `GET /v1/sources/{id}`. "
            "For a parent, its children are queued instead. Unchanged content is detected and skipped. When "
            "ingestion ends, `source.ingested` or `source.failed` webhooks fire. A URL source with `config.crawl` "
            "crawls its site (again): new and changed pages become children and are ingested, unchanged pages "
            "are left alone, pages that are gone are retired; follow `stage: crawling` and `progress`, then "
            "read `crawl_report`.",
            who=ANY_MEMBER,
            answers=[
                (202, "queued"),
                (404, NOT_FOUND),
                (409, "the source is being processed right now, or it is deactivated"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Queued",
                value={"status": "accepted", "message": f"Ingestion queued for source {SOURCE['id']}"},
                response_only=True,
                status_codes=["202"],
            )
        ],
    ),
    ingest_children=extend_schema(
        summary="Ingest all children of a source",
        description=operation_description(
            "Queues every active child of the parent that is not being processed; `enqueued` says how many. A "
            "source without children answers 202 with `enqueued: 0`.",
            who=ANY_MEMBER,
            answers=[(202, "queued"), (404, NOT_FOUND)],
        ),
        examples=[
            OpenApiExample(
                "Queued",
                value={"status": "accepted", "message": "Ingestion queued for 2 child sources", "enqueued": 2},
                response_only=True,
                status_codes=["202"],
            )
        ],
    ),
    upload=extend_schema(
        summary="Upload a file as a source",
        description=operation_description(
            "Send `multipart/form-data` with the `file` and the `bot_profile_id` (optionally `name` — the file "
            "name by default —, `description`, `parent_id`). The file is stored and its ingestion starts by "
            f"itself (`stage: queued`); follow it with `GET /v1/sources/{{id}}`. Accepted types: {UPLOAD_TYPES}; "
            f"at most {UPLOAD_LIMIT_MB}. A file that cannot be read (damaged, encrypted, a decompression bomb) ends "
            "`error` with the reason in `error_message`.\n\n"
            'Example: `curl -X POST http://127.0.0.1:8000/v1/sources/upload -H "Authorization: Bearer $TOKEN" '
            "-F bot_profile_id=<bot id> -F file=@handbook.pdf`",
            who=ANY_MEMBER,
            notes=[
                "With `external_id` an upload is an upsert: if an active upload source of the bot already has "
                "that key, the same bytes change nothing and different bytes replace its file and ingest it "
                "again (answer 200)."
            ],
            answers=[
                (200, "an upload source of the bot already had this `external_id`: it was updated"),
                (201, "stored and queued for ingestion"),
                (403, "your plan's `sources`, `chunks` or `upload_bytes` quota is reached"),
                (404, "the parent source does not exist in your tenant"),
                (
                    422,
                    "unsupported file type or file too large (checked first), missing field, or the bot is not "
                    "your tenant's",
                ),
            ],
        ),
        examples=[OpenApiExample("Uploaded", value=UPLOADED, response_only=True, status_codes=["201"])],
    ),
    batch=extend_schema(
        summary="Create a parent source with many children",
        description=operation_description(
            "Creates a parent source and its children (text or URL, like `POST /v1/sources`) together, for "
            "example one child per page of a site. Nothing is ingested yet: call "
            "`POST /v1/sources/{parent id}/ingest-children` (or `…/ingest` on the parent). At least one and at "
            f"most {settings.MAX_BATCH_CHILDREN} children.",
            who=ANY_MEMBER,
            notes=[_URLS],
            answers=[
                (201, "created: the parent (with `children_count`) and the children in your order"),
                (403, "your plan's `sources` or `chunks` quota is reached"),
                (422, "no children or too many, a child without content or URL, the bot is not your tenant's"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Two pages of a site",
                value={
                    "bot_profile_id": BOT_ID,
                    "name": "Docs site",
                    "children": [
                        {
                            "name": "Getting started",
                            "source_type": "url",
                            "config": {"url": "https://example.com/docs/start"},
                        },
                        {"name": "FAQ", "source_type": "url", "config": {"url": "https://example.com/docs/faq"}},
                    ],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={"parent": BATCH_PARENT, "children": BATCH_CHILDREN},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
)
