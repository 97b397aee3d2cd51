"""Writes and workflows for sources.

Side effects are stated per function. Ingestion never runs in the request: `source_ingest` queues the
Celery task (on the `ingest` queue) once the surrounding transaction commits.
"""

import logging
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from bots.models import BotProfile
from minirag.errors import Conflict, InvalidInput, NotFound
from minirag.netguard import UnsafeURLError, resolve_and_check, validate_url_syntax
from minirag.tenancy import tenant_context
from sources.index import KnowledgeIndexError, get_index
from sources.models import EXTERNAL_ID_CONSTRAINT, Document, IngestStage, Source, SourceStatus, SourceType
from sources.pipeline.extract import UPLOAD_KINDS
from sources.pipeline.ingest import Outcome, run_ingestion
from sources.selectors import file_sha256, source_file_sha256
from usage.services import quota_check

logger = logging.getLogger("minirag.sources")

UPDATABLE_FIELDS = ("name", "description", "config", "content", "is_active", "refresh_schedule", "external_id")
EXTERNAL_ID_MAX_LENGTH = 512


def _field_error(loc: Sequence[str | int], message: str, kind: str = "value_error") -> InvalidInput:
    return InvalidInput([{"loc": ["body", *loc], "msg": message, "type": kind}])


# --- validation -------------------------------------------------------------------------------------------


def _bot_for_write(bot_profile_id) -> BotProfile:
    bot = None
    try:
        bot = BotProfile.objects.filter(pk=bot_profile_id).first()
    except (ValueError, TypeError):
        bot = None
    if bot is None:
        raise InvalidInput("Bot profile not found or belongs to a different tenant")
    return bot


def _parent_for_write(parent_id, bot: BotProfile) -> Source | None:
    if parent_id is None:
        return None
    parent = Source.objects.filter(pk=parent_id).first()
    if parent is None:
        raise NotFound("Source not found")
    if parent.bot_profile_id != bot.pk:
        raise InvalidInput("Parent source belongs to a different bot profile")
    if parent.parent_id is not None:
        raise InvalidInput("Nesting beyond one level is not allowed")
    return parent


def check_source_url(url: Any, *, loc: Sequence[str | int] = ("config", "url")) -> str:
    """A URL source needs an http(s) URL that is not aimed at a refused address (checked again at fetch time)."""
    if not isinstance(url, str) or not url.strip():
        raise _field_error(loc, "A URL source needs config.url (an http:// or https:// URL)", "value_error.missing")
    url = url.strip()
    try:
        validate_url_syntax(url)
        resolve_and_check(url)
    except UnsafeURLError as error:
        if "could not be resolved" not in str(error):  # DNS may be down now; the fetch checks again
            raise _field_error(loc, str(error), "value_error.url") from None
    return url


def _validate_payload(
    source_type: str, config: dict, content: str | None, *, loc: Sequence[str | int] = ()
) -> tuple[dict, str | None]:
    config = dict(config or {})
    if source_type == SourceType.URL:
        config["url"] = check_source_url(config.get("url"), loc=(*loc, "config", "url"))
    elif source_type == SourceType.TEXT:
        if content is None or not content.strip():
            raise _field_error((*loc, "content"), "A text source needs non-empty content", "value_error.missing")
    elif source_type == SourceType.UPLOAD:
        raise _field_error((*loc, "source_type"), "Upload sources are created with POST /v1/sources/upload")
    return config, content


def clean_external_id(value: Any) -> str:
    """A client's key for a source: "" (or null) for none; at most 512 characters, no control characters.
    Kept exactly as given (no trimming): it is compared byte for byte."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _field_error(("external_id",), "external_id must be a string", "type_error.str")
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        message = f"external_id must be at most {EXTERNAL_ID_MAX_LENGTH} characters"
        raise _field_error(("external_id",), message, "value_error.any_str.max_length")
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise _field_error(("external_id",), "external_id must not contain control characters")
    return value


def _is_external_id_clash(error: IntegrityError) -> bool:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == EXTERNAL_ID_CONSTRAINT


def _external_id_taken(external_id: str) -> Conflict:
    return Conflict(f"external_id {external_id!r} is already used by another active source of this bot")


# --- create -----------------------------------------------------------------------------------------------


def source_create(
    *,
    bot_profile_id,
    name: str,
    source_type: str,
    description: str = "",
    config: dict | None = None,
    content: str | None = None,
    parent_id=None,
    refresh_schedule: str | None = None,
    external_id: str | None = "",
) -> Source:
    """Create a text or URL source in `pending`. Does not ingest (reference behaviour). A key an active source
    of the bot already has is a Conflict (`source_upsert` updates that source instead)."""
    external_id = clean_external_id(external_id)
    try:
        return _create(
            bot_profile_id=bot_profile_id, name=name, source_type=source_type, description=description,
            config=config, content=content, parent_id=parent_id, refresh_schedule=refresh_schedule,
            external_id=external_id,
        )  # fmt: skip
    except IntegrityError as error:
        if _is_external_id_clash(error):
            raise _external_id_taken(external_id) from None
        raise


@transaction.atomic
def _create(
    *, bot_profile_id, name, source_type, description, config, content, parent_id, refresh_schedule, external_id
) -> Source:
    bot = _bot_for_write(bot_profile_id)
    parent = _parent_for_write(parent_id, bot)
    config, content = _validate_payload(source_type, config or {}, content)
    quota_check(adding={"sources": 1, "chunks": 1})  # 403 over the plan's sources or stored chunks
    return Source.objects.create(
        bot_profile=bot,
        parent=parent,
        name=name,
        description=description or "",
        source_type=source_type,
        config=config,
        content=content,
        refresh_schedule=refresh_schedule,
        external_id=external_id,
    )


def _upload_limit_message() -> str:
    megabytes = settings.MAX_UPLOAD_BYTES / (1024 * 1024)
    return f"File too large. Maximum size is {megabytes:g} MB."


def check_upload(filename: str, size: int) -> str:
    """Extension, then size (the reference's order and wording). Returns the lower-cased extension."""
    extension = Path(filename or "").suffix.lower()
    if extension not in UPLOAD_KINDS:
        allowed = ", ".join(sorted(UPLOAD_KINDS))
        raise InvalidInput(f"Unsupported file type: {extension or '(none)'}. Allowed: {allowed}")
    if size > settings.MAX_UPLOAD_BYTES:
        raise InvalidInput(_upload_limit_message())
    return extension


def _original_filename(file: File) -> str:
    return Path(getattr(file, "name", "") or "upload").name


def _upload_config(file: File, original: str, config_extra: dict | None) -> dict:
    # file_size counts towards the upload_bytes quota
    return {"original_filename": original, "file_size": file.size, **(config_extra or {})}


def _store_file(source: Source, file: File, original: str) -> None:
    """Save the file under the source's folder, then the row (the file is removed again if the row is not)."""
    safe_name = get_valid_filename(original) or f"upload{Path(original).suffix.lower()}"
    source.file.save(safe_name, file, save=False)
    try:
        with transaction.atomic():
            source.save()
    except Exception:
        source.file.delete(save=False)
        raise


def _create_upload(
    *, bot: BotProfile, parent: Source | None, file: File, name, description, external_id, config_extra
) -> Source:
    original = _original_filename(file)
    quota_check(adding={"sources": 1, "chunks": 1, "upload_bytes": file.size})  # 403 over the plan's quotas
    source = Source(
        bot_profile=bot,
        parent=parent,
        name=(name or original or "Uploaded file")[:255],
        description=description or "",
        source_type=SourceType.UPLOAD,
        config=_upload_config(file, original, config_extra),
        file_sha256=file_sha256(file),
        external_id=external_id,
    )
    _store_file(source, file, original)
    return source


def source_create_upload(
    *,
    bot_profile_id,
    file: File,
    name: str | None = None,
    description: str = "",
    parent_id=None,
    trigger: str = "upload",
    external_id: str | None = "",
    config_extra: dict | None = None,
) -> Source:
    """Store an uploaded file (Django storage under MEDIA_ROOT) as an `upload` source and queue its ingestion.

    The request only validates and stores; extraction happens in the worker (so re-ingest and refresh can
    re-extract). Raises InvalidInput for an unknown type or an oversized file, before anything is stored;
    Conflict for a key an active source of the bot already has (`source_upsert_upload` updates it instead).
    The config records the file's name and size, plus `config_extra`.
    """
    check_upload(_original_filename(file), file.size)
    external_id = clean_external_id(external_id)
    try:
        with transaction.atomic():
            bot = _bot_for_write(bot_profile_id)
            parent = _parent_for_write(parent_id, bot)
            source = _create_upload(
                bot=bot, parent=parent, file=file, name=name, description=description, external_id=external_id,
                config_extra=config_extra,
            )  # fmt: skip
            source_ingest(source=source, trigger=trigger)
    except IntegrityError as error:
        if _is_external_id_clash(error):
            raise _external_id_taken(external_id) from None
        raise
    return source


# --- upsert by external_id ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upserted:
    source: Source
    # "created"; "updated" (new content: back to pending); "unchanged" (same content; name and description
    # may still have been updated, nothing is re-ingested)
    outcome: str

    @property
    def created(self) -> bool:
        return self.outcome == "created"


def _retrying_external_id_clash(attempt, external_id: str):
    """Run `attempt` (one transaction: look the key up under lock, then update or insert). Two concurrent
    upserts of a new key both find nothing and both insert; the constraint refuses the second insert, whose
    retry then finds the first one's row and updates it."""
    for last in (False, True):
        try:
            return attempt()
        except IntegrityError as error:
            if not _is_external_id_clash(error):
                raise
            if last:
                raise _external_id_taken(external_id) from None
    raise AssertionError("unreachable")


def _locked_by_external_id(bot: BotProfile, external_id: str) -> Source | None:
    return Source.objects.select_for_update().filter(bot_profile=bot, external_id=external_id, is_active=True).first()


def _check_upsert_target(existing: Source, external_id: str, source_type: str, parent: Source | None) -> None:
    if existing.source_type != source_type:
        raise Conflict(
            f"external_id {external_id!r} belongs to a {existing.source_type} source of this bot; "
            f"it cannot be replaced by a {source_type} source"
        )
    if existing.parent_id != (parent.pk if parent else None):
        raise Conflict(f"external_id {external_id!r} belongs to a source of this bot with a different parent")


def source_upsert(
    *,
    bot_profile_id,
    name: str,
    source_type: str,
    external_id: str | None = "",
    description: str = "",
    config: dict | None = None,
    content: str | None = None,
    parent_id=None,
    refresh_schedule: str | None = None,
) -> Upserted:
    """`source_create`, or — when the bot has an active source with this `external_id` — an update of it.

    The update sets name, description, config, content and refresh_schedule as a create would. New content or
    config puts the source back to `pending` (its current knowledge stays searchable until it is re-ingested):
    "updated"; the same content leaves its knowledge alone: "unchanged". Neither path ingests (like a create).
    Conflict when the key belongs to a source of another type or parent. Concurrent upserts of one key make
    one source.
    """
    external_id = clean_external_id(external_id)
    fields = {
        "bot_profile_id": bot_profile_id, "name": name, "source_type": source_type, "description": description,
        "config": config, "content": content, "parent_id": parent_id, "refresh_schedule": refresh_schedule,
    }  # fmt: skip
    if not external_id:
        return Upserted(source_create(**fields), "created")

    def attempt() -> Upserted:
        with transaction.atomic():
            bot = _bot_for_write(bot_profile_id)
            existing = _locked_by_external_id(bot, external_id)
            if existing is None:
                return Upserted(_create(**fields, external_id=external_id), "created")
            _check_upsert_target(existing, external_id, source_type, _parent_for_write(parent_id, bot))
            new_config, new_content = _validate_payload(source_type, config or {}, content)
            changes: dict[str, Any] = {
                "name": name, "description": description or "", "refresh_schedule": refresh_schedule
            }  # fmt: skip
            changed = new_config != (existing.config or {}) or new_content != existing.content
            if changed:
                changes |= {"config": new_config, "content": new_content}
            source = source_update(source=existing, changes=changes)
            return Upserted(source, "updated" if changed else "unchanged")

    return _retrying_external_id_clash(attempt, external_id)


def source_upsert_upload(
    *,
    bot_profile_id,
    file: File,
    external_id: str | None = "",
    name: str | None = None,
    description: str = "",
    parent_id=None,
    trigger: str = "upload",
    config_extra: dict | None = None,
) -> Upserted:
    """`source_create_upload`, or — when the bot has an active upload source with this `external_id` — an update.

    Same bytes (SHA-256) as the stored file: "unchanged" — name and description are updated, nothing is stored
    or re-ingested. Different bytes replace the stored file (the old one is removed after commit), the source
    goes back to `pending` and its ingestion is queued (a run in flight is superseded): "updated". Conflict when
    the key belongs to a source of another type or parent. Concurrent upserts of one key make one source.
    """
    original = _original_filename(file)
    check_upload(original, file.size)
    external_id = clean_external_id(external_id)
    if not external_id:
        source = source_create_upload(
            bot_profile_id=bot_profile_id, file=file, name=name, description=description, parent_id=parent_id,
            trigger=trigger, config_extra=config_extra,
        )  # fmt: skip
        return Upserted(source, "created")
    digest = file_sha256(file)

    def attempt() -> Upserted:
        with transaction.atomic():
            bot = _bot_for_write(bot_profile_id)
            parent = _parent_for_write(parent_id, bot)
            existing = _locked_by_external_id(bot, external_id)
            if existing is None:
                source = _create_upload(
                    bot=bot, parent=parent, file=file, name=name, description=description,
                    external_id=external_id, config_extra=config_extra,
                )  # fmt: skip
                source_ingest(source=source, trigger=trigger)
                return Upserted(source, "created")
            _check_upsert_target(existing, external_id, SourceType.UPLOAD, parent)
            labels = ((name or original or "Uploaded file")[:255], description or "")
            if source_file_sha256(source=existing) == digest:
                config = {**(existing.config or {}), **(config_extra or {})}
                if (existing.name, existing.description, existing.config) != (*labels, config):
                    existing.name, existing.description, existing.config = *labels, config
                    existing.save(update_fields=["name", "description", "config", "updated_at"])
                return Upserted(existing, "unchanged")
            existing.name, existing.description = labels
            old_size = (existing.config or {}).get("file_size")
            old_size = old_size if isinstance(old_size, int) else 0
            quota_check(adding={"upload_bytes": max(0, file.size - old_size)})  # 403 over the plan's quota
            old_file = existing.file.name if existing.file else ""
            existing.config = {**(existing.config or {}), **_upload_config(file, original, config_extra)}
            existing.file_sha256 = digest
            _mark_pending(existing)
            _store_file(existing, file, original)
            if old_file and old_file != existing.file.name:
                storage = existing.file.storage
                transaction.on_commit(lambda: storage.delete(old_file))
            source_ingest(source=existing, trigger=trigger)
            return Upserted(existing, "updated")

    return _retrying_external_id_clash(attempt, external_id)


@dataclass(frozen=True)
class BatchResult:
    parent: Source
    children: list[Source]


@transaction.atomic
def source_batch_create(
    *,
    bot_profile_id,
    name: str,
    children: list[dict],
    description: str = "",
    source_type: str = SourceType.URL,
) -> BatchResult:
    """A parent plus its children in one transaction. Foreign bot → 422 first; no children → 422."""
    bot = _bot_for_write(bot_profile_id)
    if not children:
        raise InvalidInput("At least one child source is required")
    if len(children) > settings.MAX_BATCH_CHILDREN:
        raise InvalidInput(f"Too many child sources: at most {settings.MAX_BATCH_CHILDREN} per batch")
    validated = [
        _validate_payload(
            child["source_type"], child.get("config") or {}, child.get("content"), loc=("children", index)
        )
        for index, child in enumerate(children)
    ]
    quota_check(adding={"sources": 1 + len(children), "chunks": 1})  # 403 over the plan's sources or chunks
    parent = Source.objects.create(
        bot_profile=bot, name=name, description=description or "", source_type=source_type, config={}
    )
    rows = [
        Source(
            bot_profile=bot,
            parent=parent,
            name=child["name"],
            description=child.get("description") or "",
            source_type=child["source_type"],
            config=config,
            content=content,
            created_at=timezone.now() + timedelta(microseconds=index),  # keeps "oldest first" = input order
        )
        for index, (child, (config, content)) in enumerate(zip(children, validated, strict=True))
    ]
    Source.objects.bulk_create(rows)
    return BatchResult(parent=parent, children=rows)


# --- update / delete --------------------------------------------------------------------------------------


def _mark_pending(source: Source) -> set[str]:
    """Back to `pending` for new content; returns the fields changed. A run in flight would index the old
    content: it is superseded (its token no longer matches)."""
    source.status = SourceStatus.PENDING
    source.stage = None
    source.progress = 0
    source.ingest_token = None
    source.processing_started_at = None
    source.content_hash = ""  # the next ingest must not be skipped as "unchanged"
    return {"status", "stage", "progress", "content_hash", "ingest_token", "processing_started_at"}


def source_update(*, source: Source, changes: dict[str, Any]) -> Source:
    """PATCH semantics. A `content` or `config` change puts the source back to `pending` (its current
    knowledge stays searchable until re-ingested). `is_active: false` removes its knowledge (and its
    children's) from retrieval before returning; `is_active: true` brings it back as `pending`.
    An `external_id` (or a reactivation) that another active source of the bot holds is a Conflict."""
    if "external_id" in changes:
        changes = {**changes, "external_id": clean_external_id(changes["external_id"])}
    try:
        source, deactivate = _apply_update(source, changes)
    except IntegrityError as error:
        if _is_external_id_clash(error):
            raise _external_id_taken(changes.get("external_id", source.external_id)) from None
        raise
    if deactivate:
        source_delete(source=source)
        source.refresh_from_db()
    return source


def _apply_update(source: Source, changes: dict[str, Any]) -> tuple[Source, bool]:
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        deactivate = changes.get("is_active") is False and source.is_active
        reactivate = changes.get("is_active") is True and not source.is_active
        fields = {"updated_at"}
        for field in UPDATABLE_FIELDS:
            if field not in changes or field == "is_active":
                continue
            value = changes[field]
            if value is None and field in ("name", "description", "config"):
                raise _field_error((field,), "This field may not be null.", "value_error.null")
            setattr(source, field, value)
            fields.add(field)
        if "content" in changes or "config" in changes:
            if source.source_type != SourceType.UPLOAD and source.children.filter(is_active=True).count() == 0:
                source.config, source.content = _validate_payload(
                    source.source_type, source.config or {}, source.content
                )
            fields |= {"config", "content", *_mark_pending(source)}
        if reactivate:
            source.is_active = True
            source.status = SourceStatus.PENDING
            source.stage = None
            source.progress = 0
            fields |= {"is_active", "status", "stage", "progress"}
        source.save(update_fields=sorted(fields))
    return source, deactivate


def source_delete(*, source: Source) -> None:
    """Soft delete, cascading to active children. Their knowledge leaves the index before this returns: with
    the PostgreSQL index in the same transaction; with Qdrant right after it, and if Qdrant is unreachable
    the sources stay excluded from retrieval (`purge_pending`) until the purge task succeeds."""
    index = get_index()
    with transaction.atomic():
        ids = [source.pk, *Source.objects.filter(parent=source, is_active=True).values_list("pk", flat=True)]
        Source.objects.filter(pk__in=ids).update(
            is_active=False,
            purge_pending=not index.transactional,
            status=SourceStatus.PENDING,
            stage=None,
            progress=0,
            ingest_token=None,  # a run in flight is superseded and writes nothing
            processing_started_at=None,
            heartbeat_at=None,
            current_document=None,
            content_hash="",
            document_count=0,
            chunk_count=0,
            updated_at=timezone.now(),
        )
        Document.objects.filter(source_id__in=ids).delete()  # chunks, postings and vectors cascade
    if not index.transactional:
        source_purge_vectors(source_ids=[str(pk) for pk in ids])


def source_purge_vectors(*, source_ids: Sequence[str], raise_errors: bool = False) -> bool:
    """Remove the sources' entries from a non-transactional index; on failure queue a retrying purge task."""
    if not get_index().retire_sources(source_ids=list(source_ids)):
        if raise_errors:
            raise KnowledgeIndexError("The knowledge index is unreachable; the purge will be retried")
        logger.warning("index purge of %d source(s) failed; queued for retry", len(source_ids))
        from sources.tasks import purge_source_vectors

        _on_commit_in_tenant(lambda: _send(purge_source_vectors, list(source_ids)))
        return False
    Source.objects.filter(pk__in=source_ids, is_active=False).update(purge_pending=False)
    return True


# --- ingestion --------------------------------------------------------------------------------------------


def _run_is_dead() -> Q:
    """Sources whose ingestion run lost its lease (worker died), or ran past the hard cap."""
    now = timezone.now()
    lapsed = now - timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    return (
        Q(heartbeat_at__lt=lapsed)
        | Q(heartbeat_at__isnull=True, processing_started_at__lt=lapsed)
        | Q(heartbeat_at__isnull=True, processing_started_at__isnull=True)
        | Q(processing_started_at__lt=now - timedelta(seconds=settings.INGEST_STUCK_AFTER_SECONDS))
    )


def _is_running(source: Source) -> bool:
    return (
        source.status == SourceStatus.PROCESSING
        and not Source.objects.filter(pk=source.pk).filter(_run_is_dead()).exists()
    )


def _on_commit_in_tenant(callback) -> None:
    """Run `callback` after commit in the tenant schema that is current now.

    tenant-schemas-celery stamps a task with the schema active when it is *sent*; a callback that runs
    after the request's middleware already switched back to public must not queue the task there.
    """
    tenant = connection.tenant

    def run() -> None:
        with tenant_context(tenant):
            callback()

    transaction.on_commit(run)


def _send(task, *args) -> bool:
    try:
        task.delay(*args)
    except Exception:  # broker down: reported on the source, never a 500 after commit
        logger.exception("could not queue %s", task.name)
        return False
    return True


def _queue(source: Source, trigger: str) -> None:
    from sources.tasks import ingest_source

    token = uuid.uuid4()
    Source.objects.filter(pk=source.pk).update(
        ingest_token=token, stage=IngestStage.QUEUED, progress=0, updated_at=timezone.now()
    )
    source.ingest_token, source.stage, source.progress = token, IngestStage.QUEUED, 0
    source_id = str(source.pk)

    def send() -> None:
        if not _send(ingest_source, source_id, str(token), trigger):
            with transaction.atomic():
                from sources.pipeline.ingest import fail_source

                fail_source(source, str(token), "Could not queue the ingestion (task broker unavailable); try again")

    _on_commit_in_tenant(send)


def source_ingest(*, source: Source, trigger: str = "manual") -> Source:
    """Queue ingestion of `source` (or, for a parent with children, of its children).

    Used by the API, the admin, `manage.py ingest` and the refresh scheduler. Raises Conflict when the source
    is inactive or is being processed by a live run (one whose lease lapsed is dead and is superseded).
    The task runs after the current transaction commits.
    """
    if not source.is_active:
        raise Conflict("Source is inactive; reactivate it before ingesting")
    if _is_running(source):
        raise Conflict("Source is already being processed")
    if source.parent_id is None and Source.objects.filter(parent=source, is_active=True).exists():
        source_ingest_children(parent=source, trigger=trigger)
        return source
    _queue(source, trigger)
    return source


def source_ingest_children(*, parent: Source, trigger: str = "manual") -> int:
    """Queue every active child not currently processing. Returns how many were queued."""
    children = list(
        Source.objects.filter(parent=parent, is_active=True)
        .exclude(Q(status=SourceStatus.PROCESSING) & ~_run_is_dead())
        .order_by("created_at", "id")
    )
    for child in children:
        _queue(child, trigger)
    return len(children)


def source_reindex_bot(*, bot: BotProfile) -> int:
    """Queue re-ingestion of the bot's indexed sources (after its embedding model changed)."""
    sources = list(
        Source.objects.filter(bot_profile=bot, is_active=True, status__in=[SourceStatus.READY, SourceStatus.ERROR])
        .exclude(children__is_active=True)
        .distinct()
    )
    for source in sources:
        _queue(source, "reindex")
    return len(sources)


def source_run_ingestion(*, source_id: str, token: str | None = None, trigger: str = "manual") -> Outcome:
    """The worker side of `source_ingest` (see sources.pipeline.ingest for the guarantees)."""
    return run_ingestion(source_id=source_id, token=token, trigger=trigger)


def source_fail_stuck() -> int:
    """Fail sources whose ingestion run is dead (current schema): its lease lapsed (the worker was killed or
    lost) or it ran past INGEST_STUCK_AFTER_SECONDS.

    Each gets a clear error message and emits `source.failed`; the dead run's partial rows and index entries
    are removed in the same transaction, and the source can be re-ingested at once. A late finish of the
    dead run is ignored (its token no longer matches).
    """
    from sources.pipeline.ingest import fail_dead_run

    lease = settings.INGEST_LEASE_SECONDS
    message = (
        f"Ingestion stopped: the worker running it stopped responding for over {lease} seconds (it may have "
        "crashed, been killed or run out of memory), or it ran too long. Re-ingest the source to try again."
    )
    failed = 0
    for source in Source.objects.filter(status=SourceStatus.PROCESSING).filter(_run_is_dead()):
        if fail_dead_run(source, message):
            failed += 1
    return failed
