"""What `manage.py ingest` would do: its targets expanded into keyed items and compared with the bot's sources.

Every item has a stable key, stored on its source as `external_id`, so a second run finds the source the
first one made:
- a file under a directory argument: the directory's name (or `--key-prefix`), a slash, and the file's path
  relative to the directory — `docs/intro/index.txt`; the source is named the same;
- a file named on its own: its file name;
- a URL: the normalised URL (lower-case scheme and host, no default port, no fragment).

Inside a directory, files with an extension the extractors know are taken (sources.pipeline.extract.
UPLOAD_KINDS: documents, data, source code, configuration); files whose path has a part starting with a dot
(`.git/`, `.venv/`, `.env.json`) or a dependency or cache folder (`node_modules/`, `__pycache__/`,
`site-packages/`) are ignored — a project's folder would otherwise bring in thousands of vendored code files.
Ignored files still count as present for `--sync`, so it never retires a source because of them.

A source made from a directory also records that directory's prefix in its config (`ingest_root`). `--sync`
retires only the bot's sources that carry the same prefix in both places and whose files are gone, so it
never touches another directory's sources, sources made from single files or URLs, or sources made through
the API (they have no `ingest_root`).
"""

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.files import File
from django.core.management.base import CommandError

from bots.models import BotProfile
from sources import selectors
from sources.models import IngestStage, Source, SourceStatus, SourceType
from sources.pipeline.extract import UPLOAD_KINDS

ROOT_MARKER = "ingest_root"
DEFAULT_PORTS = {"http": 80, "https": 443}
IGNORED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "bower_components"})


@dataclass(frozen=True)
class Item:
    """One file or URL to ingest, with its key."""

    key: str
    name: str
    path: Path | None = None
    url: str | None = None
    root: str = ""  # the key prefix of the directory the file was found in ("" for single files and URLs)


@dataclass
class Targets:
    items: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files of unsupported types
    ignored: list[str] = field(default_factory=list)  # files in hidden or dependency folders, hidden files
    # directory key prefix → the keys of every file under that directory now (supported or not)
    roots: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Step:
    """One thing the run does: "create", "update", "retry" (same content, failed or never ingested),
    "unchanged" or "retire"."""

    action: str
    name: str
    item: Item | None = None
    source: Source | None = None


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def normalised_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # a malformed port: the URL check refuses it when the source is created
        return url
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _display_name(key: str) -> str:
    # Names hold 255 characters; a deep path keeps its end, where the file name is.
    return key if len(key) <= 255 else "…" + key[-254:]


def is_ignored(relative: Path) -> bool:
    """A hidden file, or a file under a hidden, dependency or cache folder (see the module's docstring)."""
    return any(part.startswith(".") or part in IGNORED_FOLDERS for part in relative.parts)


def directory_prefix(path: Path, key_prefix: str | None) -> str:
    label = (key_prefix if key_prefix is not None else path.resolve().name or "root").strip("/")
    if not label:
        raise CommandError("--key-prefix must not be empty")
    return f"{label}/"


def expand(targets: list[str], *, key_prefix: str | None = None) -> Targets:
    """Files, directories (walked recursively) and URLs → keyed items. Refuses two different files with one key."""
    directories = [target for target in targets if not is_url(target) and Path(target).is_dir()]
    if key_prefix is not None and len(directories) != 1:
        raise CommandError("--key-prefix names the keys of one directory; give exactly one directory with it")
    found = Targets()
    by_key: dict[str, Item] = {}

    def add(item: Item) -> None:
        known = by_key.get(item.key)
        if known is None:
            by_key[item.key] = item
            found.items.append(item)
        elif known.path != item.path or known.url != item.url:
            where = (known.path or known.url, item.path or item.url)
            raise CommandError(
                f"{where[0]} and {where[1]} would share the key {item.key!r}; ingest them in separate runs, "
                "or give a directory its own --key-prefix"
            )

    for target in targets:
        if is_url(target):
            key = normalised_url(target)
            add(Item(key=key, name=_display_name(target), url=target.strip()))
            continue
        path = Path(target)
        if path.is_dir():
            prefix = directory_prefix(path, key_prefix)
            if prefix in found.roots:
                raise CommandError(
                    f"Two directories would share the key prefix {prefix!r}; ingest them in separate runs with "
                    "their own --key-prefix"
                )
            seen = found.roots[prefix] = set()
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = child.relative_to(path)
                key = prefix + relative.as_posix()
                seen.add(key)
                if is_ignored(relative):
                    found.ignored.append(str(child))
                elif child.suffix.lower() in UPLOAD_KINDS:
                    add(Item(key=key, name=_display_name(key), path=child, root=prefix))
                else:
                    found.skipped.append(str(child))
        elif path.is_file():
            add(Item(key=path.name, name=_display_name(path.name), path=path))
        else:
            raise CommandError(f"No such file, directory or URL: {target}")
    return found


def needs_retry(source: Source) -> bool:
    """Its last ingestion failed, or it was never queued: a run with the same content ingests it again."""
    return source.status == SourceStatus.ERROR or (source.status == SourceStatus.PENDING and source.stage is None)


def _local_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return selectors.file_sha256(File(handle))


def _file_step(item: Item, source: Source) -> Step:
    if source.source_type != SourceType.UPLOAD or item.path.stat().st_size > settings.MAX_UPLOAD_BYTES:
        return Step("update", item.name, item, source)  # the service says why it cannot
    if _local_sha256(item.path) != selectors.source_file_sha256(source=source):
        return Step("update", item.name, item, source)
    return Step("retry" if needs_retry(source) else "unchanged", item.name, item, source)


def plan(bot: BotProfile, targets: Targets, *, sync: bool) -> list[Step]:
    """Compare the items with the bot's active sources (reads only; a few queries in all).

    A file whose bytes (SHA-256) match its source's stored file is unchanged; an ingested URL is left alone
    (its refresh schedule or `POST …/ingest` fetches it again). With `sync`, a directory's sources whose files
    are gone are retired."""
    existing = selectors.sources_by_external_id(bot_profile_id=bot.pk, external_ids=[i.key for i in targets.items])
    steps = []
    for item in targets.items:
        source = existing.get(item.key)
        if source is None:
            steps.append(Step("create", item.name, item))
        elif item.path is not None:
            steps.append(_file_step(item, source))
        elif source.source_type != SourceType.URL:
            steps.append(Step("update", item.name, item, source))  # the service says why it cannot
        else:
            steps.append(Step("retry" if needs_retry(source) else "unchanged", item.name, item, source))
    if sync:
        for prefix, present in targets.roots.items():
            for source in selectors.sources_with_external_id_prefix(bot_profile_id=bot.pk, prefix=prefix):
                if source.external_id not in present and (source.config or {}).get(ROOT_MARKER) == prefix:
                    steps.append(Step("retire", source.name, source=source))
    return steps


def is_finished(source: Source) -> bool:
    return source.status in (SourceStatus.READY, SourceStatus.ERROR) and source.stage != IngestStage.QUEUED
