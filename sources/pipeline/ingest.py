"""The ingestion run for one source: extract → chunk → embed → index, with progress, in the worker.

Guarantees:
- Idempotent: chunk ids derive from (tenant, source, version, order); a rerun first removes what an
  interrupted run left, so nothing is duplicated.
- Each batch's chunk rows and index entries (postings, vectors) commit in one transaction (PostgreSQL index).
- Replace, never gap: the new version's chunks are written first; the transaction that switches
  `current_document` also removes the old version. A failure midway leaves the previous version
  searchable (retrieval only returns chunks of `current_document`).
- Unchanged content (same hash, same index signature) skips chunking and embedding entirely.
- Every outcome emits exactly one event: `source.ingested` or `source.failed` — early failures included.
- A run carries the source's `ingest_token`; a newer request or the stuck-job sweeper supersedes it.
"""

import hashlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
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
from sources.index import Batch, ChunkEntry, DenseSpace, KnowledgeIndexError, get_index
from sources.models import Chunk, Document, IngestStage, Source, SourceStatus, SourceType
from sources.pipeline import lexical
from sources.pipeline.chunking import CHUNKING_VERSION, TextChunk, chunk_text
from sources.pipeline.extract import UPLOAD_KINDS, Extracted, ExtractionError, extract_by_kind, kind_for_content_type
from sources.pipeline.fetch import fetch_url

logger = logging.getLogger("minirag.ingest")

POINT_NAMESPACE = uuid.UUID("0b7f3c52-2d7e-4f0a-9c1e-6a3f5d8e9b10")
# (source_id, stage, progress) listeners: `manage.py ingest` draws its progress bars from these.
progress_listeners: list[Callable[[str, str, int], None]] = []


class IngestError(Exception):
    """A failure with a message written for the user (stored in `error_message`)."""


@dataclass
class Outcome:
    status: str  # "ready", "unchanged", "error", "superseded", "missing", "inactive"
    chunk_count: int = 0
    message: str = ""


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


def _tenant_id() -> str:
    return str(connection.tenant.id)


PROGRESS_WRITE_INTERVAL_SECONDS = 0.5
_last_progress_write: dict[str, float] = {}


def _set_progress(source: Source, token: str, stage: str, progress: int) -> None:
    """Report progress to listeners at once, and to the database at most every PROGRESS_WRITE_INTERVAL_SECONDS
    per source (each write is a commit; small sources finish before the first one is due)."""
    now = time.monotonic()
    key = str(source.pk)
    started = _last_progress_write.setdefault(key, now)
    if now - started >= PROGRESS_WRITE_INTERVAL_SECONDS:
        _last_progress_write[key] = now
        Source.objects.filter(pk=source.pk, ingest_token=token).update(
            stage=stage, progress=progress, heartbeat_at=timezone.now(), updated_at=timezone.now()
        )
    for listener in list(progress_listeners):
        listener(key, stage, progress)


class Lease:
    """Renews the run's lease (`heartbeat_at`) from a thread while the run works, so a long extraction or a
    slow provider call never looks like a dead worker. A killed worker stops renewing; once the lease is
    older than INGEST_LEASE_SECONDS the sweeper fails the source. The first renewal is one interval in, so
    short runs never start a database connection for it."""

    def __init__(self, *, source_id: str, token: str):
        self.source_id, self.token = source_id, token
        self.schema_name = connection.schema_name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{source_id[:8]}", daemon=True)

    def __enter__(self) -> "Lease":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def renew(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
            cursor.execute(
                f'UPDATE "{self.schema_name}".sources_source SET heartbeat_at = now() '
                "WHERE id = %s AND ingest_token = %s AND status = 'processing'",
                [self.source_id, self.token],
            )
            return cursor.rowcount

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.INGEST_HEARTBEAT_SECONDS):
                try:
                    self.renew()
                except Exception:  # noqa: BLE001 - a missed renewal is retried next interval
                    logger.warning("could not renew the ingestion lease of source %s", self.source_id)
        finally:
            connection.close()  # this thread's own connection


# --- extraction -----------------------------------------------------------------------------------------


def extract_source(source: Source) -> Extracted:
    if source.source_type == SourceType.TEXT:
        return extract_by_kind("text", (source.content or "").encode())
    if source.source_type == SourceType.UPLOAD:
        if not source.file:
            raise IngestError("The uploaded file is missing; upload it again")
        kind = UPLOAD_KINDS.get(Path(source.file.name).suffix.lower())
        if kind is None:
            raise IngestError(f"Unsupported file type: {Path(source.file.name).suffix}")
        try:
            with source.file.open("rb") as handle:
                return extract_by_kind(kind, handle if kind in ("pdf", "docx") else handle.read())
        except FileNotFoundError:
            raise IngestError("The uploaded file is missing from storage; upload it again") from None
    if source.source_type == SourceType.URL:
        url = (source.config or {}).get("url")
        if not url:
            raise IngestError("The URL source has no config.url")
        fetched = fetch_url(url)
        kind = kind_for_content_type(fetched.content_type, fetched.body[:512])
        if kind is None:
            raise IngestError(
                f"Unsupported content type {fetched.content_type.split(';')[0]!r} at {fetched.final_url}"
                " (supported: HTML, PDF, plain text)"
            )
        return extract_by_kind(kind, fetched.body)
    raise IngestError(f"Source type {source.source_type!r} cannot be ingested")


# --- the run ----------------------------------------------------------------------------------------------


def _claim(source_id: str, token: str | None) -> tuple[Source | None, str | None, Outcome | None]:
    with transaction.atomic():
        source = Source.objects.select_for_update().select_related("bot_profile").filter(pk=source_id).first()
        if source is None:
            return None, None, Outcome("missing")
        if token and source.ingest_token and str(source.ingest_token) != token:
            return None, None, Outcome("superseded")
        if not source.is_active:
            Source.objects.filter(pk=source.pk).update(stage=None, progress=0)
            return None, None, Outcome("inactive")
        previous_status = source.status
        token = token or str(uuid.uuid4())
        source.ingest_token = token
        source.status = SourceStatus.PROCESSING
        source.stage = IngestStage.EXTRACTING
        source.progress = 5
        source.error_message = None
        source.processing_started_at = source.heartbeat_at = timezone.now()
        source.save(
            update_fields=[
                "ingest_token", "status", "stage", "progress", "error_message", "processing_started_at",
                "heartbeat_at", "updated_at",
            ]
        )  # fmt: skip
    return source, previous_status, None


def fail_source(source: Source, token: str | None, message: str) -> bool:
    """Mark the run failed (only if it still owns the source) and emit `source.failed`."""
    message = message.strip()[:2000] or "Ingestion failed"
    queryset = Source.objects.filter(pk=source.pk)
    if token:
        queryset = queryset.filter(ingest_token=token)
    with transaction.atomic():
        updated = queryset.update(
            status=SourceStatus.ERROR,
            stage=None,
            progress=0,
            error_message=message,
            processing_started_at=None,
            heartbeat_at=None,
            updated_at=timezone.now(),
        )
        if updated:
            events.emit(events.SOURCE_FAILED, {"source_id": str(source.pk), "error": message[:500]})
    return bool(updated)


def fail_dead_run(source: Source, message: str) -> bool:
    """Fail a run whose worker died (lease lapsed) and remove what it left: every version of the source
    except the live one, with its index entries, in the same transaction. False when the run recovered."""
    with transaction.atomic():
        locked = Source.objects.select_for_update().filter(pk=source.pk, status=SourceStatus.PROCESSING).first()
        if locked is None:
            return False
        _retire_documents(locked, Document.objects.filter(source=locked).exclude(pk=locked.current_document_id))
        if not fail_source(locked, None, message):
            return False
        Source.objects.filter(pk=locked.pk).update(ingest_token=None)
    return True


def run_ingestion(*, source_id: str, token: str | None = None, trigger: str = "manual") -> Outcome:
    source, previous_status, early = _claim(source_id, token)
    if early is not None:
        logger.info("ingest %s skipped: %s", source_id, early.status)
        return early
    token = str(source.ingest_token)
    logger.info("ingest %s started (trigger=%s)", source_id, trigger)
    _last_progress_write[str(source.pk)] = time.monotonic()
    try:
        with Lease(source_id=str(source.pk), token=token):
            outcome = _ingest(source, token, previous_status)
    except SoftTimeLimitExceeded:
        message = (
            f"Ingestion took longer than {settings.INGEST_SOFT_TIME_LIMIT_SECONDS} s and was stopped; "
            "split the source or try again"
        )
        fail_source(source, token, message)
        return Outcome("error", message=message)
    except (IngestError, ExtractionError, embeddings.EmbeddingError, KnowledgeIndexError) as error:
        fail_source(source, token, str(error))
        return Outcome("error", message=str(error))
    except UnsafeURLError as error:
        fail_source(source, token, f"Refused: {error}")
        return Outcome("error", message=str(error))
    except Exception:
        logger.exception("ingest %s crashed", source_id)
        message = "Ingestion failed because of an internal error; try again later"
        fail_source(source, token, message)
        return Outcome("error", message=message)
    finally:
        _last_progress_write.pop(str(source.pk), None)
    logger.info("ingest %s finished: %s (%d chunks)", source_id, outcome.status, outcome.chunk_count)
    return outcome


def _batched(chunks: Iterator[TextChunk], size: int) -> Iterator[list[TextChunk]]:
    batch: list[TextChunk] = []
    for chunk in chunks:
        if not chunk.text.strip():
            continue
        batch.append(chunk)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ingest(source: Source, token: str, previous_status: str) -> Outcome:
    bot = source.bot_profile
    tenant_id = _tenant_id()
    index = get_index()
    extracted = extract_source(source)
    text = extracted.text
    if not text.strip():
        raise IngestError("No content to ingest: the source is empty after extraction")
    content_hash = hashlib.sha256(text.encode()).hexdigest()
    signature = index_signature(bot)
    if (
        previous_status == SourceStatus.READY
        and source.content_hash == content_hash
        and source.index_signature == signature
        and source.current_document_id is not None
    ):
        return _finish_unchanged(source, token)

    version = hashlib.sha256(f"{content_hash}|{signature}".encode()).hexdigest()[:32]
    config = embedding_config(bot)
    _set_progress(source, token, IngestStage.CHUNKING, 20)
    # Leftovers of an interrupted run (any version but the live one) go first, with their index entries.
    _retire_documents(source, Document.objects.filter(source=source).exclude(pk=source.current_document_id))
    document = Document.objects.create(
        source=source,
        title=source.name[:500],
        version=version,
        content_hash=content_hash,
        char_count=len(text),
        page_count=extracted.page_count,
    )
    space: DenseSpace | None = None
    chunk_count = 0
    spent_tokens = 0
    reported = True
    estimated_chunks = max(
        1, math.ceil(len(text) / 4 / max(1, settings.CHUNK_SIZE_TOKENS - settings.CHUNK_OVERLAP_TOKENS))
    )
    try:
        chunks = chunk_text(
            text,
            chunk_size=settings.CHUNK_SIZE_TOKENS,
            overlap=settings.CHUNK_OVERLAP_TOKENS,
            page_starts=extracted.page_starts,
            title=source.name,
        )
        for number, batch in enumerate(_batched(chunks, settings.EMBEDDING_BATCH_SIZE)):
            dense_vectors: list[list[float]] | None = None
            if config is not None:
                _set_progress(source, token, IngestStage.EMBEDDING, _progress(chunk_count, estimated_chunks))
                embedded = embeddings.embed_batch(config, [chunk.text for chunk in batch])
                dense_vectors = embedded.vectors
                if embedded.usage_reported:
                    spent_tokens += embedded.prompt_tokens
                else:
                    reported = False
                    spent_tokens += sum(chunk.token_count for chunk in batch)
            if number == 0:
                space = DenseSpace(config.model, len(dense_vectors[0])) if dense_vectors else None
                index.prepare(space)  # outside the batch transaction (may create an HNSW index)
            _set_progress(source, token, IngestStage.INDEXING, _progress(chunk_count, estimated_chunks))
            rows, entries = [], []
            for position, chunk in enumerate(batch):
                pid = point_id(tenant_id=tenant_id, source_id=str(source.pk), version=version, order=chunk.order)
                # The section is indexed with the text: a question naming a heading finds the chunks under it.
                terms, length = lexical.term_frequencies(chunk.text, language=bot.language, section=chunk.section)
                row = Chunk(
                    document=document,
                    source=source,
                    point_id=pid,
                    order=chunk.order,
                    content=chunk.text,
                    char_start=chunk.start,
                    char_end=chunk.end,
                    token_count=chunk.token_count,
                    page=chunk.page,
                    section=chunk.section,
                )
                rows.append(row)
                entries.append(
                    ChunkEntry(
                        chunk_id=str(row.pk),
                        point_id=pid,
                        order=chunk.order,
                        terms=terms,
                        length=length,
                        dense=dense_vectors[position] if dense_vectors else None,
                    )
                )
            # Rows and their index entries commit together: a crash leaves both or neither.
            with transaction.atomic():
                Chunk.objects.bulk_create(rows)
                index.write(
                    Batch(
                        bot_id=str(bot.pk),
                        source_id=str(source.pk),
                        document_id=str(document.pk),
                        version=version,
                        entries=entries,
                        space=space,
                    )
                )
            chunk_count += len(batch)
        if chunk_count == 0:
            raise IngestError("Chunking produced no output")
        _set_progress(source, token, IngestStage.INDEXING, 95)
        finished = _switch_version(source, token, document, chunk_count, content_hash, signature)
    except BaseException:
        _discard_document(source, document)
        raise
    finally:
        if spent_tokens and config is not None:
            _record_usage(bot, source, config.model, spent_tokens, reported)
    if not finished:
        _discard_document(source, document)
        return Outcome("superseded")
    return Outcome("ready", chunk_count=chunk_count)


def _progress(done: int, estimated: int) -> int:
    return 25 + min(65, int(65 * done / estimated))


def _switch_version(source, token, document, chunk_count, content_hash, signature) -> bool:
    with transaction.atomic():
        locked = Source.objects.select_for_update().filter(pk=source.pk, ingest_token=token).first()
        if locked is None or not locked.is_active:
            return False
        Document.objects.filter(pk=document.pk).update(chunk_count=chunk_count)
        locked.current_document = document
        locked.status = SourceStatus.READY
        locked.stage = IngestStage.DONE
        locked.progress = 100
        locked.document_count = 1
        locked.chunk_count = chunk_count
        locked.content_hash = content_hash
        locked.index_signature = signature
        locked.error_message = None
        locked.processing_started_at = None
        locked.last_refreshed_at = timezone.now()
        locked.heartbeat_at = None
        # Only what changed: the row also holds the source's content (megabytes for a big text source).
        locked.save(
            update_fields=[
                "current_document", "status", "stage", "progress", "document_count", "chunk_count", "content_hash",
                "index_signature", "error_message", "processing_started_at", "last_refreshed_at", "heartbeat_at",
                "updated_at",
            ]
        )  # fmt: skip
        # The previous version disappears in this transaction (its index entries with it).
        _retire_documents(locked, Document.objects.filter(source=locked).exclude(pk=document.pk))
        events.emit(
            events.SOURCE_INGESTED,
            {"source_id": str(locked.pk), "source_name": locked.name, "document_count": 1, "chunk_count": chunk_count},
        )
    for listener in list(progress_listeners):
        listener(str(source.pk), IngestStage.DONE, 100)
    return True


def _finish_unchanged(source: Source, token: str) -> Outcome:
    with transaction.atomic():
        updated = Source.objects.filter(pk=source.pk, ingest_token=token).update(
            status=SourceStatus.READY,
            stage=IngestStage.DONE,
            progress=100,
            error_message=None,
            processing_started_at=None,
            last_refreshed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if updated:
            events.emit(
                events.SOURCE_INGESTED,
                {
                    "source_id": str(source.pk),
                    "source_name": source.name,
                    "document_count": source.document_count,
                    "chunk_count": source.chunk_count,
                    "changed": False,
                },
            )
    for listener in list(progress_listeners):
        listener(str(source.pk), IngestStage.DONE, 100)
    return Outcome("unchanged" if updated else "superseded", chunk_count=source.chunk_count)


def _retire_documents(source: Source, documents) -> None:
    """Delete these document versions of `source` and their index entries, in the caller's transaction."""
    found = list(documents.values_list("pk", "version"))
    if not found:
        return
    # A rerun of the live version reuses its chunk ids: entries keyed by version (Qdrant points) stay.
    live_version = Document.objects.filter(pk=source.current_document_id).values_list("version", flat=True).first()
    with transaction.atomic():
        get_index().retire_documents(
            source_id=str(source.pk),
            document_ids=[str(pk) for pk, _ in found],
            versions=sorted({version for _, version in found if version != live_version}),
        )
        Document.objects.filter(pk__in=[pk for pk, _ in found]).delete()


def _discard_document(source: Source, document: Document) -> None:
    """Remove a half-written version; the current one stays searchable."""
    try:
        _retire_documents(source, Document.objects.filter(pk=document.pk).exclude(pk=source.current_document_id))
    except Exception:  # noqa: BLE001 - best effort; the DB may be the thing that failed
        logger.warning("could not remove the unfinished version of source %s", source.pk)


def _record_usage(bot: BotProfile, source: Source, model: str, tokens: int, reported: bool) -> None:
    from usage.services import usage_record

    try:
        usage_record(kind="embedding", model=model, prompt_tokens=tokens, bot_profile_id=bot.pk, source_id=source.pk)
    except Exception:
        logger.exception("could not record embedding usage for source %s", source.pk)
    if not reported:
        logger.info("embedding usage for source %s counted locally (provider reported none)", source.pk)
