"""The ingestion run for one source, in the worker. The one entry point is `run_ingestion`:

    claim → extract → chunk → embed → index (batch by batch) → publish

- claim: take the source under its `ingest_token` (a newer request or the sweeper supersedes a run);
- extract its text; unchanged content (same hash, same index signature) publishes the live version as it is;
- chunk → embed → index: each batch's chunk rows and index entries (postings, vectors) commit together;
- publish: the transaction that switches `current_document` also removes the old version.

Idempotent (chunk ids derive from tenant, source, version and order; a rerun first removes what an interrupted
run left); replace, never gap (a failure midway leaves the previous version searchable: retrieval only returns
chunks of `current_document`); every outcome emits one event, `source.ingested` or `source.failed`. The run's
lease, progress, failure and cleanup bookkeeping live in sources.pipeline.runs.

Kept whole (~400 lines) on purpose: the steps above read top to bottom in the order they run.
"""

import hashlib
import logging
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from bots.models import BotProfile
from bots.services import bot_credentials
from minirag import events
from minirag.encryption import DecryptionError
from minirag.integrations import embeddings
from minirag.netguard import UnsafeURLError
from sources.index import Batch, ChunkEntry, DenseSpace, KnowledgeIndex, KnowledgeIndexError, get_index
from sources.models import Chunk, Document, IngestStage, Source, SourceStatus, SourceType
from sources.pipeline import lexical
from sources.pipeline.chunking import CHUNKING_VERSION, TextChunk, chunk_text
from sources.pipeline.extract import UPLOAD_KINDS, Extracted, ExtractionError, extract_by_kind, kind_for_content_type
from sources.pipeline.fetch import fetch_url
from sources.pipeline.runs import (
    Lease,
    discard_document,
    fail_source,
    failure_detail,
    notify_listeners,
    record_embedding_usage,
    report_progress,
    retire_documents,
    retire_leftovers,
)

logger = logging.getLogger("minirag.ingest")

POINT_NAMESPACE = uuid.UUID("0b7f3c52-2d7e-4f0a-9c1e-6a3f5d8e9b10")


class IngestError(Exception):
    """A failure with a message written for the user (stored in `error_message`)."""


@dataclass
class Outcome:
    status: str  # "ready", "unchanged", "error", "superseded", "missing", "inactive"
    chunk_count: int = 0
    message: str = ""


# --- the bot's index configuration ---------------------------------------------------------------------------


def effective_embedding_model(bot: BotProfile) -> str | None:
    return bot.embedding_model or settings.DEFAULT_EMBEDDING_MODEL or None


def embedding_config(bot: BotProfile) -> embeddings.EmbeddingConfig | None:
    model = effective_embedding_model(bot)
    if not model:
        return None
    try:
        credentials = bot_credentials(bot)
    except DecryptionError:
        raise IngestError("The bot's credentials cannot be decrypted (encryption key missing); re-enter them") from None
    return embeddings.EmbeddingConfig(
        model=model,
        api_key=credentials.get("embedding_api_key") or credentials.get("api_key") or None,
        api_base=credentials.get("api_base") or None,
        api_version=credentials.get("api_version") or None,
    )


def index_signature(bot: BotProfile) -> str:
    model = effective_embedding_model(bot) or "sparse"
    chunking = f"{settings.CHUNK_SIZE_TOKENS}/{settings.CHUNK_OVERLAP_TOKENS}/v{CHUNKING_VERSION}"
    # The analyzer's version and the bot's language: changing either re-indexes the source on its next run.
    return f"{model}|chunk={chunking}|lexical={lexical.signature(bot.language)}"[:300]


def point_id(*, tenant_id: str, source_id: str, version: str, order: int) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, f"{tenant_id}:{source_id}:{version}:{order}"))


# --- the entry point ---------------------------------------------------------------------------------------


def run_ingestion(*, source_id: str, token: str | None = None, trigger: str = "manual") -> Outcome:
    """Ingest the source (the `ingest_source` task's body). A run without `token` claims the source anew."""
    claimed = claim(source_id, token)
    if isinstance(claimed, Outcome):
        logger.info("ingest %s skipped: %s", source_id, claimed.status)
        return claimed
    source, previous_status = claimed
    token = str(source.ingest_token)
    logger.info("ingest %s started (trigger=%s)", source_id, trigger)
    try:
        with Lease(source_id=str(source.pk), token=token):
            outcome = _ingest(source, token, previous_status)
    except Exception as error:  # noqa: BLE001 - any failure fails the source; a killed worker is the sweeper's
        message = _failure_message(source_id, error)
        fail_source(source, token, message, detail=failure_detail(error))
        return Outcome("error", message=message)
    logger.info("ingest %s finished: %s (%d chunks)", source_id, outcome.status, outcome.chunk_count)
    return outcome


def _failure_message(source_id: str, error: Exception) -> str:
    """What the tenant reads in `error_message`: our own errors as they are, never an internal one (that one is
    logged with its traceback; operators read the real cause in `error_detail`)."""
    if isinstance(error, SoftTimeLimitExceeded):
        return (
            f"Ingestion took longer than {settings.INGEST_SOFT_TIME_LIMIT_SECONDS} s and was stopped; "
            "split the source or try again"
        )
    if isinstance(error, IngestError | ExtractionError | embeddings.EmbeddingError | KnowledgeIndexError):
        return str(error)
    if isinstance(error, UnsafeURLError):
        return f"Refused: {error}"
    logger.error("ingest %s crashed", source_id, exc_info=error)
    return "Ingestion failed because of an internal error; try again later"


def _ingest(source: Source, token: str, previous_status: str) -> Outcome:
    extracted = extract_source(source)
    if not extracted.text.strip():
        raise IngestError("No content to ingest: the source is empty after extraction")
    content_hash = hashlib.sha256(extracted.text.encode()).hexdigest()
    signature = index_signature(source.bot_profile)
    if (
        previous_status == SourceStatus.READY
        and (source.content_hash, source.index_signature) == (content_hash, signature)
        and source.current_document_id is not None
    ):
        return publish_unchanged(source, token)
    version = _start_version(source, token, extracted, content_hash, signature)
    try:
        for batch in chunk_batches(source, extracted):
            index_chunks(version, batch, embed_chunks(version, batch))
        if version.chunk_count == 0:
            raise IngestError("Chunking produced no output")
        report_progress(source, token, IngestStage.INDEXING, 95)
        published = publish(version)
    except BaseException:
        discard_document(source, version.document)
        raise
    finally:
        if version.spent_tokens and version.config is not None:
            record_embedding_usage(version.source, version.config.model, version.spent_tokens, version.usage_reported)
    if not published:
        discard_document(source, version.document)
        return Outcome("superseded")
    return Outcome("ready", chunk_count=version.chunk_count)


# --- claim -------------------------------------------------------------------------------------------------


def claim(source_id: str, token: str | None) -> tuple[Source, str] | Outcome:
    """Take the source for this run: (the source, its status before) or why not ("missing", "superseded",
    "inactive"). The source goes to `processing`, its lease starts now."""
    with transaction.atomic():
        source = Source.objects.select_for_update().select_related("bot_profile").filter(pk=source_id).first()
        if source is None:
            return Outcome("missing")
        if token and source.ingest_token and str(source.ingest_token) != token:
            return Outcome("superseded")
        if not source.is_active:
            Source.objects.filter(pk=source.pk).update(stage=None, progress=0)
            return Outcome("inactive")
        previous_status = source.status
        source.ingest_token = token or str(uuid.uuid4())
        source.status = SourceStatus.PROCESSING
        source.stage = IngestStage.EXTRACTING
        source.progress = 5
        source.error_message, source.error_detail = None, ""
        source.processing_started_at = source.heartbeat_at = timezone.now()
        source.save(
            update_fields=[
                "ingest_token", "status", "stage", "progress", "error_message", "error_detail", "processing_started_at",
                "heartbeat_at", "updated_at",
            ]
        )  # fmt: skip
    return source, previous_status


# --- extract -----------------------------------------------------------------------------------------------


def extract_source(source: Source) -> Extracted:
    if source.source_type == SourceType.TEXT:
        return extract_by_kind("text", (source.content or "").encode())
    if source.source_type == SourceType.UPLOAD:
        if not source.file:
            raise IngestError("The uploaded file is missing; upload it again")
        kind = UPLOAD_KINDS.get(Path(source.file.name).suffix.lower())
        if kind is None:
            allowed = ", ".join(sorted(UPLOAD_KINDS))
            raise IngestError(f"Unsupported file type: {Path(source.file.name).suffix}. Allowed: {allowed}")
        try:
            with source.file.open("rb") as handle:
                return extract_by_kind(kind, handle, filename=source.file.name)
        except FileNotFoundError:
            raise IngestError("The uploaded file is missing from storage; upload it again") from None
    if source.source_type == SourceType.URL:
        url = (source.config or {}).get("url")
        if not url:
            raise IngestError("The URL source has no config.url")
        crawled = (source.config or {}).get("crawl_page")
        if isinstance(crawled, dict) and source.content is not None:
            # A crawled page (sources.crawl): the crawler fetched it at its polite rate and stored the body.
            kind = kind_for_content_type(str(crawled.get("content_type") or ""), b"") or "text"
            return extract_by_kind(kind, source.content.encode())
        fetched = fetch_url(url)
        kind = kind_for_content_type(fetched.content_type, fetched.body[:512])
        if kind is None:
            raise IngestError(
                f"Unsupported content type {fetched.content_type.split(';')[0]!r} at {fetched.final_url}"
                " (supported: HTML, PDF, plain text, CSV, JSON, RTF, DOCX, PPTX, XLSX, ODT, EPUB)"
            )
        return extract_by_kind(kind, fetched.body)
    raise IngestError(f"Source type {source.source_type!r} cannot be ingested")


# --- chunk → embed → index ---------------------------------------------------------------------------------


@dataclass
class NewVersion:
    """The document version a run writes, and what the run has spent on it so far."""

    source: Source
    token: str
    document: Document
    signature: str
    config: embeddings.EmbeddingConfig | None
    index: KnowledgeIndex
    tenant_id: str
    estimated_chunks: int
    space: DenseSpace | None = None
    chunk_count: int = 0
    spent_tokens: int = 0
    usage_reported: bool = True  # False once a batch's tokens were counted locally

    @property
    def progress(self) -> int:
        return 25 + min(65, int(65 * self.chunk_count / self.estimated_chunks))


def _start_version(source: Source, token: str, extracted: Extracted, content_hash: str, signature: str) -> NewVersion:
    config = embedding_config(source.bot_profile)
    report_progress(source, token, IngestStage.CHUNKING, 20)
    retire_leftovers(source)  # an interrupted run's versions go first, with their index entries
    document = Document.objects.create(
        source=source,
        title=source.name[:500],
        version=hashlib.sha256(f"{content_hash}|{signature}".encode()).hexdigest()[:32],
        content_hash=content_hash,
        char_count=len(extracted.text),
        page_count=extracted.page_count,
    )
    step = max(1, settings.CHUNK_SIZE_TOKENS - settings.CHUNK_OVERLAP_TOKENS)
    return NewVersion(
        source=source, token=token, document=document, signature=signature, config=config, index=get_index(),
        tenant_id=str(connection.tenant.id), estimated_chunks=max(1, math.ceil(len(extracted.text) / 4 / step)),
    )  # fmt: skip


def chunk_batches(source: Source, extracted: Extracted) -> Iterator[list[TextChunk]]:
    """The text's chunks (blank ones dropped), in batches of EMBEDDING_BATCH_SIZE."""
    chunks = chunk_text(
        extracted.text,
        chunk_size=settings.CHUNK_SIZE_TOKENS,
        overlap=settings.CHUNK_OVERLAP_TOKENS,
        page_starts=extracted.page_starts,
        title=source.name,
    )
    batch: list[TextChunk] = []
    for chunk in chunks:
        if not chunk.text.strip():
            continue
        batch.append(chunk)
        if len(batch) >= settings.EMBEDDING_BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def embed_chunks(version: NewVersion, batch: list[TextChunk]) -> list[list[float]] | None:
    """The batch's dense vectors from the bot's provider (None for a sparse-only bot); counts the tokens spent."""
    if version.config is None:
        return None
    report_progress(version.source, version.token, IngestStage.EMBEDDING, version.progress)
    embedded = embeddings.embed_batch(version.config, [chunk.text for chunk in batch])
    if embedded.usage_reported:
        version.spent_tokens += embedded.prompt_tokens
    else:
        version.usage_reported = False
        version.spent_tokens += sum(chunk.token_count for chunk in batch)
    return embedded.vectors


def index_chunks(version: NewVersion, batch: list[TextChunk], vectors: list[list[float]] | None) -> None:
    """Write the batch's chunk rows and their index entries in one transaction: a crash leaves both or neither."""
    source, bot = version.source, version.source.bot_profile
    if version.chunk_count == 0:  # the first batch: the dense space is known now
        version.space = DenseSpace(version.config.model, len(vectors[0])) if vectors else None
        version.index.prepare(version.space)  # outside the batch transaction (may create an HNSW index)
    report_progress(source, version.token, IngestStage.INDEXING, version.progress)
    rows, entries = [], []
    for position, chunk in enumerate(batch):
        pid = point_id(
            tenant_id=version.tenant_id, source_id=str(source.pk), version=version.document.version, order=chunk.order
        )
        # The section is indexed with the text: a question naming a heading finds the chunks under it.
        terms, length = lexical.term_frequencies(chunk.text, language=bot.language, section=chunk.section)
        row = Chunk(
            document=version.document, source=source, point_id=pid, order=chunk.order, content=chunk.text,
            char_start=chunk.start, char_end=chunk.end, token_count=chunk.token_count, page=chunk.page,
            section=chunk.section,
        )  # fmt: skip
        rows.append(row)
        entries.append(
            ChunkEntry(chunk_id=str(row.pk), point_id=pid, order=chunk.order, terms=terms, length=length,
                       dense=vectors[position] if vectors else None)
        )  # fmt: skip
    with transaction.atomic():
        Chunk.objects.bulk_create(rows)
        version.index.write(
            Batch(bot_id=str(bot.pk), source_id=str(source.pk), document_id=str(version.document.pk),
                  version=version.document.version, entries=entries, space=version.space)
        )  # fmt: skip
    version.chunk_count += len(batch)


# --- publish -----------------------------------------------------------------------------------------------


def publish(version: NewVersion) -> bool:
    """Make the new version the searchable one and remove the old one, in one transaction; emits
    `source.ingested`. False when the run was superseded meanwhile (nothing is switched)."""
    source, document, chunk_count = version.source, version.document, version.chunk_count
    with transaction.atomic():
        locked = Source.objects.select_for_update().filter(pk=source.pk, ingest_token=version.token).first()
        if locked is None or not locked.is_active:
            return False
        Document.objects.filter(pk=document.pk).update(chunk_count=chunk_count)
        locked.current_document = document
        locked.status, locked.stage, locked.progress = SourceStatus.READY, IngestStage.DONE, 100
        locked.document_count, locked.chunk_count = 1, chunk_count
        locked.content_hash, locked.index_signature = document.content_hash, version.signature
        locked.error_message = locked.processing_started_at = locked.heartbeat_at = None
        locked.error_detail = ""
        locked.last_refreshed_at = timezone.now()
        # Only what changed: the row also holds the source's content (megabytes for a big text source).
        locked.save(
            update_fields=[
                "current_document", "status", "stage", "progress", "document_count", "chunk_count", "content_hash",
                "index_signature", "error_message", "error_detail", "processing_started_at", "last_refreshed_at",
                "heartbeat_at",
                "updated_at",
            ]
        )  # fmt: skip
        retire_documents(locked, Document.objects.filter(source=locked).exclude(pk=document.pk))
        events.emit(
            events.SOURCE_INGESTED,
            {"source_id": str(locked.pk), "source_name": locked.name, "document_count": 1, "chunk_count": chunk_count},
        )
    notify_listeners(str(source.pk), IngestStage.DONE, 100)
    return True


def publish_unchanged(source: Source, token: str) -> Outcome:
    """The content and index configuration did not change: the live version stays, the source is ready again."""
    with transaction.atomic():
        updated = Source.objects.filter(pk=source.pk, ingest_token=token).update(
            status=SourceStatus.READY,
            stage=IngestStage.DONE,
            progress=100,
            error_message=None,
            error_detail="",
            processing_started_at=None,
            last_refreshed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if updated:
            events.emit(
                events.SOURCE_INGESTED,
                {"source_id": str(source.pk), "source_name": source.name, "document_count": source.document_count,
                 "chunk_count": source.chunk_count, "changed": False},
            )  # fmt: skip
    notify_listeners(str(source.pk), IngestStage.DONE, 100)
    return Outcome("unchanged" if updated else "superseded", chunk_count=source.chunk_count)
