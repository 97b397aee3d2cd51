"""Upserts by `external_id`: a create, or — when the bot has an active source with that key — an update of it.
Concurrent upserts of one new key make one source (the unique constraint refuses the second insert, whose
retry then finds the first one's row)."""

from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction

from bots.models import BotProfile
from minirag.errors import Conflict
from sources.models import Source, SourceType
from sources.selectors import file_sha256, source_file_sha256
from sources.services.checks import (
    bot_for_write,
    check_upload,
    clean_external_id,
    external_id_taken,
    is_external_id_clash,
    parent_for_write,
    validate_payload,
)
from sources.services.create import (
    create_row,
    create_upload_row,
    original_filename,
    source_create,
    source_create_upload,
    store_file,
    upload_config,
)
from sources.services.ingestion import source_ingest
from sources.services.update import mark_pending, source_update
from usage.services import quota_check


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
            if not is_external_id_clash(error):
                raise
            if last:
                raise external_id_taken(external_id) from None
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
            bot = bot_for_write(bot_profile_id)
            existing = _locked_by_external_id(bot, external_id)
            if existing is None:
                return Upserted(create_row(**fields, external_id=external_id), "created")
            parent = parent_for_write(parent_id, bot)
            _check_upsert_target(existing, external_id, source_type, parent)
            new_config, new_content = validate_payload(source_type, config or {}, content, allow_crawl=parent is None)
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
    original = original_filename(file)
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
            bot = bot_for_write(bot_profile_id)
            parent = parent_for_write(parent_id, bot)
            existing = _locked_by_external_id(bot, external_id)
            if existing is None:
                source = create_upload_row(
                    bot=bot, parent=parent, file=file, name=name, description=description,
                    external_id=external_id, config_extra=config_extra,
                )  # fmt: skip
                source_ingest(source=source, trigger=trigger)
                return Upserted(source, "created")
            _check_upsert_target(existing, external_id, SourceType.UPLOAD, parent)
            labels = ((name or original or "Uploaded file")[:255], description or "")
            if source_file_sha256(source=existing) == digest:
                _relabel(existing, labels, {**(existing.config or {}), **(config_extra or {})})
                return Upserted(existing, "unchanged")
            _replace_file(existing, file, original, digest, labels, config_extra)
            source_ingest(source=existing, trigger=trigger)
            return Upserted(existing, "updated")

    return _retrying_external_id_clash(attempt, external_id)


def _relabel(source: Source, labels: tuple[str, str], config: dict) -> None:
    """Same bytes: only the name, description and config may change (nothing is re-ingested)."""
    if (source.name, source.description, source.config) != (*labels, config):
        source.name, source.description, source.config = *labels, config
        source.save(update_fields=["name", "description", "config", "updated_at"])


def _replace_file(
    source: Source, file: File, original: str, digest: str, labels: tuple[str, str], config_extra: dict | None
) -> None:
    """New bytes: store them (quota-checked for the growth), back to `pending`; the old file goes after commit."""
    source.name, source.description = labels
    old_size = (source.config or {}).get("file_size")
    old_size = old_size if isinstance(old_size, int) else 0
    quota_check(adding={"upload_bytes": max(0, file.size - old_size)})  # 403 over the plan's quota
    old_file = source.file.name if source.file else ""
    source.config = {**(source.config or {}), **upload_config(file, original, config_extra)}
    source.file_sha256 = digest
    mark_pending(source)
    store_file(source, file, original)
    if old_file and old_file != source.file.name:
        storage = source.file.storage
        transaction.on_commit(lambda: storage.delete(old_file))
