"""`manage.py ingest --tenant SLUG --bot NAME_OR_ID PATH_OR_URL...`

Creates one source per file (directories are walked recursively) or URL through the same services as the
API, queues ingestion, shows progress, prints a summary, and exits non-zero when anything failed. With
workers (a running `make run`, or any broker) every source is queued first, so the workers ingest them in
parallel, and one bar follows them all from the database; without a broker (CELERY_TASK_ALWAYS_EAGER)
ingestion runs in this process, one bar per source.
"""

import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bots.management.lookup import command_bot
from bots.models import BotProfile
from minirag.errors import DomainError
from minirag.tenancy import tenant_context
from sources import services
from sources.models import Source, SourceStatus, SourceType
from sources.pipeline import ingest as pipeline
from sources.pipeline.extract import UPLOAD_KINDS
from tenants.models import Tenant


def _is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


class Command(BaseCommand):
    help = "Ingest files, directories (recursively) and URLs into a bot's knowledge."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--bot", required=True, help="bot profile name or id")
        parser.add_argument("targets", nargs="+", metavar="PATH_OR_URL")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait in all (worker mode)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}")
        with tenant_context(tenant):
            bot = command_bot(options["bot"])
            items, skipped = self._expand(options["targets"])
            if not items:
                raise CommandError("Nothing to ingest (no supported files or URLs given)")
            if settings.CELERY_TASK_ALWAYS_EAGER:
                results = [self._ingest_one(bot, item, options) for item in items]
            else:
                results = self._ingest_queued(bot, items, options)
        ok = [r for r in results if r[1] == "ready"]
        failed = [r for r in results if r[1] != "ready"]
        self.stdout.write("")
        self.stdout.write(f"Ingested {len(ok)} of {len(results)} source(s); {sum(r[2] for r in ok)} chunks.")
        if skipped:
            self.stdout.write(f"Skipped {len(skipped)} file(s) with unsupported types.")
        for name, status, _chunks, message in failed:
            self.stderr.write(self.style.ERROR(f"FAILED {name}: {message or status}"))
        if failed:
            raise SystemExit(1)

    def _expand(self, targets: list[str]) -> tuple[list[str], list[str]]:
        items, skipped = [], []
        for target in targets:
            if _is_url(target):
                items.append(target)
                continue
            path = Path(target)
            if path.is_dir():
                for child in sorted(p for p in path.rglob("*") if p.is_file()):
                    (items if child.suffix.lower() in UPLOAD_KINDS else skipped).append(str(child))
            elif path.is_file():
                items.append(str(path))
            else:
                raise CommandError(f"No such file, directory or URL: {target}")
        return items, skipped

    def _ingest_one(self, bot: BotProfile, item: str, options) -> tuple[str, str, int, str]:
        bar = tqdm(total=100, desc=Path(item).name[:40] or item, unit="%", disable=options["no_progress"],
                   leave=True, bar_format="{desc:<40} {bar} {n_fmt}% {postfix}")  # fmt: skip
        current: dict[str, str] = {}

        def listener(source_id: str, stage: str, progress: int) -> None:
            if source_id == current.get("id"):
                bar.n = progress
                bar.set_postfix_str(stage)
                bar.refresh()

        pipeline.progress_listeners.append(listener)
        try:
            try:
                source = self._create(bot, item, current)
            except DomainError as error:
                bar.set_postfix_str("refused")
                return item, "error", 0, str(error.detail)
            source = self._wait(source, bar, options["timeout"])
        finally:
            pipeline.progress_listeners.remove(listener)
            bar.close()
        return item, source.status, source.chunk_count, source.error_message or ""

    def _ingest_queued(self, bot: BotProfile, items: list[str], options) -> list[tuple[str, str, int, str]]:
        """Queue every item, then follow them all: the workers ingest in parallel while this waits."""
        hide = options["no_progress"]
        queued: dict[str, str] = {}  # source id → item
        results: list[tuple[str, str, int, str]] = []
        for item in tqdm(items, desc="queueing", unit="source", disable=hide, leave=False):
            try:
                queued[str(self._create(bot, item, {}).pk)] = item
            except DomainError as error:
                results.append((item, "error", 0, str(error.detail)))
        bar = tqdm(total=len(queued) * 100, desc="ingesting", unit="%", disable=hide,
                   bar_format="{desc} {bar} {percentage:3.0f}% {postfix}")  # fmt: skip
        deadline = time.monotonic() + options["timeout"]
        pending = set(queued)
        while pending:
            rows = Source.objects.filter(pk__in=queued).values_list("pk", "status", "stage", "progress")
            done, total = 0, 0
            for pk, status, stage, progress in rows:
                finished = status in (SourceStatus.READY, SourceStatus.ERROR) and stage != "queued"
                total += 100 if finished else progress
                if finished:
                    pending.discard(str(pk))
                    done += 1
            bar.n = total
            bar.set_postfix_str(f"{done}/{len(queued)} done")
            bar.refresh()
            if pending and time.monotonic() > deadline:
                break
            if pending:
                time.sleep(0.5)
        bar.close()
        for source in Source.objects.filter(pk__in=queued):
            status, message = source.status, source.error_message or ""
            if str(source.pk) in pending:
                status, message = "timeout", f"still {source.status} after {options['timeout']:g} s"
            results.append((queued[str(source.pk)], status, source.chunk_count, message))
        return results

    def _create(self, bot: BotProfile, item: str, current: dict) -> Source:
        if _is_url(item):
            source = services.source_create(
                bot_profile_id=bot.pk, name=item[:255], source_type=SourceType.URL, config={"url": item}
            )
            current["id"] = str(source.pk)
            services.source_ingest(source=source, trigger="cli")
            return source
        path = Path(item)
        with path.open("rb") as handle:
            upload = File(handle, name=path.name)
            services.check_upload(path.name, path.stat().st_size)
            # In eager mode ingestion runs inside this call; the listener needs the id before that.
            source = services.source_create_upload(bot_profile_id=bot.pk, file=upload, name=path.name, trigger="cli")
        current["id"] = str(source.pk)
        return source

    def _wait(self, source: Source, bar, timeout: float) -> Source:
        deadline = time.monotonic() + timeout
        while True:
            source.refresh_from_db()
            bar.n = source.progress
            bar.set_postfix_str(source.stage or source.status)
            bar.refresh()
            finished = source.status in (SourceStatus.READY, SourceStatus.ERROR) and source.stage != "queued"
            if finished or settings.CELERY_TASK_ALWAYS_EAGER:
                return source
            if time.monotonic() > deadline:
                source.error_message = f"still {source.status} after {timeout:g} s"
                source.status = "timeout"
                return source
            time.sleep(0.5)
