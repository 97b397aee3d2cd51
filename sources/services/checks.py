"""Input checks shared by the sources' writes: the bot and parent a source belongs to, its payload (a URL, a
text, an upload's type and size) and its `external_id`. Each raises the domain error the API answers with."""

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from bots.models import BotProfile
from minirag.errors import Conflict, InvalidInput, NotFound
from minirag.netguard import UnsafeURLError, resolve_and_check, validate_url_syntax
from sources.models import EXTERNAL_ID_CONSTRAINT, Source, SourceType
from sources.pipeline.crawl_site import CrawlOptionsError, parse_crawl_options
from sources.pipeline.extract import UPLOAD_KINDS

EXTERNAL_ID_MAX_LENGTH = 512


def field_error(loc: Sequence[str | int], message: str, kind: str = "value_error") -> InvalidInput:
    return InvalidInput([{"loc": ["body", *loc], "msg": message, "type": kind}])


def bot_for_write(bot_profile_id) -> BotProfile:
    bot = None
    try:
        bot = BotProfile.objects.filter(pk=bot_profile_id).first()
    except (ValueError, TypeError):
        bot = None
    if bot is None:
        raise InvalidInput("Bot profile not found or belongs to a different tenant")
    return bot


def parent_for_write(parent_id, bot: BotProfile) -> Source | None:
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
        raise field_error(loc, "A URL source needs config.url (an http:// or https:// URL)", "value_error.missing")
    url = url.strip()
    try:
        validate_url_syntax(url)
        resolve_and_check(url)
    except UnsafeURLError as error:
        if "could not be resolved" not in str(error):  # DNS may be down now; the fetch checks again
            raise field_error(loc, str(error), "value_error.url") from None
    return url


def check_crawl_options(raw: Any, *, loc: Sequence[str | int], allowed: bool = True) -> dict:
    """`config.crawl` of a URL source, normalised (defaults filled in); a sitemap URL goes through the SSRF
    guard like `config.url`. Only a top-level source can crawl: its pages become its children."""
    if not allowed:
        raise field_error(loc, "Only a top-level URL source can crawl (its pages become its children)")
    try:
        options = parse_crawl_options(raw)
    except CrawlOptionsError as error:
        raise field_error((*loc, error.key) if error.key else loc, str(error)) from None
    if isinstance(options.sitemap, str):
        check_source_url(options.sitemap, loc=(*loc, "sitemap"))
    return options.as_config()


def validate_payload(
    source_type: str, config: dict, content: str | None, *, loc: Sequence[str | int] = (), allow_crawl: bool = True
) -> tuple[dict, str | None]:
    config = dict(config or {})
    if source_type == SourceType.URL:
        config["url"] = check_source_url(config.get("url"), loc=(*loc, "config", "url"))
        if config.get("crawl") in (None, False):
            config.pop("crawl", None)
        else:
            config["crawl"] = check_crawl_options(config["crawl"], loc=(*loc, "config", "crawl"), allowed=allow_crawl)
    elif source_type == SourceType.TEXT:
        if content is None or not content.strip():
            raise field_error((*loc, "content"), "A text source needs non-empty content", "value_error.missing")
    elif source_type == SourceType.UPLOAD:
        raise field_error((*loc, "source_type"), "Upload sources are created with POST /v1/sources/upload")
    return config, content


def check_upload(filename: str, size: int) -> str:
    """Extension, then size (the reference's order and wording). Returns the lower-cased extension."""
    extension = Path(filename or "").suffix.lower()
    if extension not in UPLOAD_KINDS:
        allowed = ", ".join(sorted(UPLOAD_KINDS))
        raise InvalidInput(f"Unsupported file type: {extension or '(none)'}. Allowed: {allowed}")
    if size > settings.MAX_UPLOAD_BYTES:
        megabytes = settings.MAX_UPLOAD_BYTES / (1024 * 1024)
        raise InvalidInput(f"File too large. Maximum size is {megabytes:g} MB.")
    return extension


def clean_external_id(value: Any) -> str:
    """A client's key for a source: "" (or null) for none; at most 512 characters, no control characters.
    Kept exactly as given (no trimming): it is compared byte for byte."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise field_error(("external_id",), "external_id must be a string", "type_error.str")
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        message = f"external_id must be at most {EXTERNAL_ID_MAX_LENGTH} characters"
        raise field_error(("external_id",), message, "value_error.any_str.max_length")
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise field_error(("external_id",), "external_id must not contain control characters")
    return value


def is_external_id_clash(error: IntegrityError) -> bool:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == EXTERNAL_ID_CONSTRAINT


def external_id_taken(external_id: str) -> Conflict:
    return Conflict(f"external_id {external_id!r} is already used by another active source of this bot")
