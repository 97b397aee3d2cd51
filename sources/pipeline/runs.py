"""The bookkeeping around an ingestion run (sources.pipeline.ingest): its lease, its progress, its failure, the
embedding usage it spent, and the removal of what a failed or dead run left.

- The lease (`heartbeat_at`) is renewed from a thread while the run works; a killed worker stops renewing and
  the stuck-source sweeper (`fail_dead_run`) fails the source once it lapsed.
- Progress goes to listeners at once (`manage.py ingest` draws its bars from them) and to the database at most
  every PROGRESS_WRITE_INTERVAL_SECONDS.
- A failure is written only by the run that still owns the source (its token), and emits `source.failed`. It has
  two texts: `error_message`, safe for the tenant (the API shows it), and `error_detail`, the real cause for
  operators (the console's source page; never serialized by the API), with anything key-like masked.
"""

import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from minirag import events
from minirag.redaction import redact
from sources.index import get_index
from sources.models import Document, Source, SourceStatus
from usage.services import usage_record

logger = logging.getLogger("minirag.ingest")

# (source_id, stage, progress) listeners: `manage.py ingest` draws its progress bars from these.
progress_listeners: list[Callable[[str, str, int], None]] = []

PROGRESS_WRITE_INTERVAL_SECONDS = 0.5
_last_progress_write: dict[str, float] = {}

DETAIL_CHARS = 2000  # of `error_detail`


# --- liveness ---------------------------------------------------------------------------------------------


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
        _last_progress_write[self.source_id] = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        _last_progress_write.pop(self.source_id, None)

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


def report_progress(source: Source, token: str, stage: str, progress: int) -> None:
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
    notify_listeners(key, stage, progress)


def notify_listeners(source_id: str, stage: str, progress: int) -> None:
    for listener in list(progress_listeners):
        listener(source_id, stage, progress)


# --- failure ----------------------------------------------------------------------------------------------


def fail_source(source: Source, token: str | None, message: str, *, detail: str = "") -> bool:
    """Mark the run failed (only if it still owns the source) and emit `source.failed`. `message` is what the
    tenant reads; `detail` (operators only, redacted here again) replaces the previous run's, even when empty."""
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
            error_detail=redact(detail.strip(), limit=DETAIL_CHARS),
            processing_started_at=None,
            heartbeat_at=None,
            updated_at=timezone.now(),
        )
        if updated:
            events.emit(events.SOURCE_FAILED, {"source_id": str(source.pk), "error": message[:500]})
    return bool(updated)


def failure_detail(error: BaseException) -> str:
    """The real cause for operators: `Type: message`, what a provider said (an EmbeddingError's `detail`), and
    where it was raised (the last traceback frame, `path:line`). Redacted and capped by `fail_source`."""
    text = str(error)
    detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
    provider = getattr(error, "detail", "")
    if isinstance(provider, str) and provider:
        detail += f" — provider: {provider}"
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    if frames:
        detail += f" (at {_short_path(frames[-1].filename)}:{frames[-1].lineno})"
    return detail


def _short_path(filename: str) -> str:
    """Relative to the project for our code, the last two parts for a library's (`pypdf/_reader.py`)."""
    path = Path(filename)
    if "site-packages" not in path.parts:
        try:
            return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
        except ValueError:
            pass
    return "/".join(path.parts[-2:])


def fail_dead_run(source: Source, message: str) -> bool:
    """Fail a run whose worker died (lease lapsed) and remove what it left: every version of the source
    except the live one, with its index entries, in the same transaction. False when the run recovered."""
    with transaction.atomic():
        locked = Source.objects.select_for_update().filter(pk=source.pk, status=SourceStatus.PROCESSING).first()
        if locked is None:
            return False
        retire_leftovers(locked)
        detail = (
            f"The run's lease lapsed: started {_when(locked.processing_started_at)}, last heartbeat "
            f"{_when(locked.heartbeat_at)} (the worker died or stopped renewing it)"
        )
        if not fail_source(locked, None, message, detail=detail):
            return False
        Source.objects.filter(pk=locked.pk).update(ingest_token=None)
    return True


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def record_embedding_usage(source: Source, model: str, tokens: int, reported: bool) -> None:
    """Record the run's embedding tokens (usage events, quotas); `reported` False: counted locally."""
    try:
        usage_record(kind="embedding", model=model, prompt_tokens=tokens, bot_profile_id=source.bot_profile_id,
                     source_id=source.pk)  # fmt: skip
    except Exception:
        logger.exception("could not record embedding usage for source %s", source.pk)
    if not reported:
        logger.info("embedding usage for source %s counted locally (provider reported none)", source.pk)


# --- versions ---------------------------------------------------------------------------------------------


def retire_documents(source: Source, documents) -> None:
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


def retire_leftovers(source: Source) -> None:
    """Remove every version but the live one (what an interrupted run left), with its index entries."""
    retire_documents(source, Document.objects.filter(source=source).exclude(pk=source.current_document_id))


def discard_document(source: Source, document: Document) -> None:
    """Remove a half-written version; the current one stays searchable."""
    try:
        retire_documents(source, Document.objects.filter(pk=document.pk).exclude(pk=source.current_document_id))
    except Exception:  # noqa: BLE001 - best effort; the DB may be the thing that failed
        logger.warning("could not remove the unfinished version of source %s", source.pk)
