"""Creating sources: a text or URL source (`pending`, not ingested), an uploaded file (stored, then its
ingestion is queued), and a batch (a parent with its children in one transaction)."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from bots.models import BotProfile
from minirag.errors import InvalidInput
from sources.models import Source, SourceType
from sources.selectors import file_sha256
from sources.services.checks import (
    bot_for_write,
    check_upload,
    clean_external_id,
    external_id_taken,
    is_external_id_clash,
    parent_for_write,
    validate_payload,
)
from sources.services.ingestion import source_ingest
from usage.services import quota_check


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
        return create_row(
            bot_profile_id=bot_profile_id, name=name, source_type=source_type, description=description,
            config=config, content=content, parent_id=parent_id, refresh_schedule=refresh_schedule,
            external_id=external_id,
        )  # fmt: skip
    except IntegrityError as error:
        if is_external_id_clash(error):
            raise external_id_taken(external_id) from None
        raise


@transaction.atomic
def create_row(
    *, bot_profile_id, name, source_type, description, config, content, parent_id, refresh_schedule, external_id
) -> Source:
    """The validated insert behind `source_create` and `source_upsert` (the key is already cleaned)."""
    bot = bot_for_write(bot_profile_id)
    parent = parent_for_write(parent_id, bot)
    config, content = validate_payload(source_type, config or {}, content, allow_crawl=parent is None)
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


# --- uploads ----------------------------------------------------------------------------------------------


def original_filename(file: File) -> str:
    return Path(getattr(file, "name", "") or "upload").name


def upload_config(file: File, original: str, config_extra: dict | None) -> dict:
    # file_size counts towards the upload_bytes quota
    return {"original_filename": original, "file_size": file.size, **(config_extra or {})}


def store_file(source: Source, file: File, original: str) -> None:
    """Save the file under the source's folder, then the row (the file is removed again if the row is not)."""
    safe_name = get_valid_filename(original) or f"upload{Path(original).suffix.lower()}"
    source.file.save(safe_name, file, save=False)
    try:
        with transaction.atomic():
            source.save()
    except Exception:
        source.file.delete(save=False)
        raise


def create_upload_row(
    *, bot: BotProfile, parent: Source | None, file: File, name, description, external_id, config_extra
) -> Source:
    """The quota-checked upload source and its stored file, behind `source_create_upload` and its upsert."""
    original = original_filename(file)
    quota_check(adding={"sources": 1, "chunks": 1, "upload_bytes": file.size})  # 403 over the plan's quotas
    source = Source(
        bot_profile=bot,
        parent=parent,
        name=(name or original or "Uploaded file")[:255],
        description=description or "",
        source_type=SourceType.UPLOAD,
        config=upload_config(file, original, config_extra),
        file_sha256=file_sha256(file),
        external_id=external_id,
    )
    store_file(source, file, original)
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
    check_upload(original_filename(file), file.size)
    external_id = clean_external_id(external_id)
    try:
        with transaction.atomic():
            bot = bot_for_write(bot_profile_id)
            parent = parent_for_write(parent_id, bot)
            source = create_upload_row(
                bot=bot, parent=parent, file=file, name=name, description=description, external_id=external_id,
                config_extra=config_extra,
            )  # fmt: skip
            source_ingest(source=source, trigger=trigger)
    except IntegrityError as error:
        if is_external_id_clash(error):
            raise external_id_taken(external_id) from None
        raise
    return source


# --- batches ----------------------------------------------------------------------------------------------


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
    bot = bot_for_write(bot_profile_id)
    if not children:
        raise InvalidInput("At least one child source is required")
    if len(children) > settings.MAX_BATCH_CHILDREN:
        raise InvalidInput(f"Too many child sources: at most {settings.MAX_BATCH_CHILDREN} per batch")
    validated = [
        validate_payload(
            child["source_type"],
            child.get("config") or {},
            child.get("content"),
            loc=("children", index),
            allow_crawl=False,
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
