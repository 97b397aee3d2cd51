"""`manage.py ingest --tenant SLUG --bot NAME_OR_ID [--sync] [--dry-run] PATH_OR_URL...`

Idempotent: every file (directories are walked recursively) and URL gets a stable key, stored on its source as
`external_id` (see sources.management.ingest_plan), so running it again updates the sources it made instead of
adding copies. A file whose bytes did not change is left alone (nothing is re-ingested); a changed file
updates its source; a source whose last ingestion failed is ingested again. `--sync` also retires (deactivates,
so its knowledge leaves retrieval) the sources made from a directory whose files are gone; `--dry-run` prints
what would happen and changes nothing. Ends with `created N, updated N, unchanged N, retired N, failed N` and
exits non-zero when anything failed. `--crawl URL [--max-pages N] [--max-depth D] [--sitemap]` crawls a site
instead (sources.management.crawl_command).

Everything goes through the same services as the API. With workers (a running `make run`, or any broker)
every source is queued first, so the workers ingest them in parallel, and one bar follows them all from the
database; without a broker (CELERY_TASK_ALWAYS_EAGER) ingestion runs in this process, one bar per source.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bots.management.lookup import command_bot
from bots.models import BotProfile
from minirag.errors import DomainError
from minirag.tenancy import tenant_context, tenants_all
from sources import services
from sources.management.crawl_command import add_crawl_arguments, run_crawl_command
from sources.management.ingest_plan import ROOT_MARKER, Step, expand, is_finished, plan
from sources.models import Source, SourceStatus, SourceType
from sources.pipeline.runs import progress_listeners

CHANGES = ("create", "update", "retry")
PAST = {"create": "created", "update": "updated", "retry": "retried", "unchanged": "unchanged", "retire": "retired"}


@dataclass
class Result:
    step: Step
    action: str  # the step's action, or "unchanged" when the service found the same content after all
    status: str  # the source's status after the run ("ready", "error", "timeout"), "" when nothing ran
    chunks: int = 0
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.action in CHANGES and self.status != SourceStatus.READY


class Command(BaseCommand):
    help = "Ingest files, directories (recursively) and URLs into a bot's knowledge; re-runs update, not copy."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--bot", required=True, help="bot profile name or id")
        parser.add_argument("targets", nargs="*", metavar="PATH_OR_URL")
        parser.add_argument(
            "--sync", action="store_true", help="also retire the sources made from a directory whose files are gone"
        )
        parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        parser.add_argument(
            "--key-prefix",
            help="the key prefix of a directory's files (default: the directory's name, e.g. docs/intro.md); "
            "give it when two folders have the same name",
        )
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait in all (worker mode)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
        add_crawl_arguments(parser)  # --crawl URL [--max-pages N] [--max-depth D] [--sitemap]: crawl_command.py

    def handle(self, *args, **options):
        tenant = tenants_all().filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}")
        with tenant_context(tenant):
            bot = command_bot(options["bot"])
            if options["crawl"]:
                return run_crawl_command(self, bot, options)
            if not options["targets"]:
                raise CommandError("Give files, directories or URLs to ingest, or --crawl URL")
            targets = expand(options["targets"], key_prefix=options["key_prefix"])
            if options["sync"] and not targets.roots:
                raise CommandError("--sync compares a directory with the bot's sources; give at least one directory")
            if not targets.items and not options["sync"]:
                raise CommandError("Nothing to ingest (no supported files or URLs given)")
            steps = plan(bot, targets, sync=options["sync"])
            if options["dry_run"]:
                self._report_dry_run(steps, targets.skipped)
                self._report_ignored(targets.ignored)
                return
            results = self._run(bot, steps, options)
        self._report(results, targets.skipped, options["verbosity"])
        self._report_ignored(targets.ignored)
        if any(result.failed for result in results):
            raise SystemExit(1)

    # --- running ------------------------------------------------------------------------------------------

    def _run(self, bot: BotProfile, steps: list[Step], options) -> list[Result]:
        changes = [step for step in steps if step.action in CHANGES]
        results = [Result(step, step.action, "") for step in steps if step.action == "unchanged"]
        if settings.CELERY_TASK_ALWAYS_EAGER:
            results += [self._ingest_one(bot, step, options) for step in changes]
        else:
            results += self._ingest_queued(bot, changes, options)
        # Last, so an interrupted run never leaves a folder with fewer sources than files.
        for step in steps:
            if step.action == "retire":
                services.source_delete(source=step.source)
                results.append(Result(step, "retire", ""))
        return results

    def _ingest_one(self, bot: BotProfile, step: Step, options) -> Result:
        bar = tqdm(total=100, desc=step.name[-40:], unit="%", disable=options["no_progress"],
                   leave=True, bar_format="{desc:<40} {bar} {n_fmt}% {postfix}")  # fmt: skip
        current: dict[str, str] = {}

        def listener(source_id: str, stage: str, progress: int) -> None:
            # Eager ingestion runs inside the service call, before it returns the id: follow the one running.
            if current.get("id", source_id) == source_id:
                bar.n = progress
                bar.set_postfix_str(stage)
                bar.refresh()

        progress_listeners.append(listener)
        try:
            try:
                action, source = self._submit(bot, step)
            except DomainError as error:
                bar.set_postfix_str("refused")
                return Result(step, step.action, "error", message=str(error.detail))
            current["id"] = str(source.pk)
            if action == "unchanged":
                bar.set_postfix_str("unchanged")
                return Result(step, action, "")
            source = self._wait(source, bar, options["timeout"])
        finally:
            progress_listeners.remove(listener)
            bar.close()
        return Result(step, action, source.status, source.chunk_count, source.error_message or "")

    def _ingest_queued(self, bot: BotProfile, steps: list[Step], options) -> list[Result]:
        """Queue every change, then follow them all: the workers ingest in parallel while this waits."""
        hide = options["no_progress"]
        queued: dict[str, tuple[Step, str]] = {}  # source id → (step, action)
        results: list[Result] = []
        for step in tqdm(steps, desc="queueing", unit="source", disable=hide, leave=False):
            try:
                action, source = self._submit(bot, step)
            except DomainError as error:
                results.append(Result(step, step.action, "error", message=str(error.detail)))
                continue
            if action == "unchanged":
                results.append(Result(step, action, ""))
            else:
                queued[str(source.pk)] = (step, action)
        if not queued:
            return results
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
        for source in Source.objects.filter(pk__in=queued).defer("content"):
            step, action = queued[str(source.pk)]
            status, message = source.status, source.error_message or ""
            if str(source.pk) in pending:
                status, message = "timeout", f"still {source.status} after {options['timeout']:g} s"
            results.append(Result(step, action, status, source.chunk_count, message))
        return results

    def _submit(self, bot: BotProfile, step: Step) -> tuple[str, Source]:
        """Create, update or re-queue the step's source; its ingestion is queued. Returns what was done."""
        item = step.item
        if step.action == "retry":
            return "retry", services.source_ingest(source=step.source, trigger="cli")
        if item.url is not None:
            result = services.source_upsert(
                bot_profile_id=bot.pk, name=item.name, source_type=SourceType.URL, config={"url": item.url},
                external_id=item.key,
            )  # fmt: skip
            if result.outcome == "unchanged":  # made meanwhile by someone else, with this very URL
                return "unchanged", result.source
            services.source_ingest(source=result.source, trigger="cli")
            return step.action, result.source
        with item.path.open("rb") as handle:
            result = services.source_upsert_upload(
                bot_profile_id=bot.pk,
                file=File(handle, name=item.path.name),
                external_id=item.key,
                name=item.name,
                trigger="cli",
                config_extra={ROOT_MARKER: item.root} if item.root else None,
            )
        return ("unchanged" if result.outcome == "unchanged" else step.action), result.source

    def _wait(self, source: Source, bar, timeout: float) -> Source:
        deadline = time.monotonic() + timeout
        while True:
            source.refresh_from_db()
            bar.n = source.progress
            bar.set_postfix_str(source.stage or source.status)
            bar.refresh()
            if is_finished(source) or settings.CELERY_TASK_ALWAYS_EAGER:
                return source
            if time.monotonic() > deadline:
                source.error_message = f"still {source.status} after {timeout:g} s"
                source.status = "timeout"
                return source
            time.sleep(0.5)

    # --- reporting ----------------------------------------------------------------------------------------

    def _report_dry_run(self, steps: list[Step], skipped: list[str]) -> None:
        for step in steps:
            note = " (failed or never ingested: ingest again)" if step.action == "retry" else ""
            self.stdout.write(f"  {step.action:<10} {step.name}{note}")
        counts = _counts((step.action, False) for step in steps)
        self.stdout.write("")
        self.stdout.write(f"Dry run, nothing changed. Would be: {_summary(counts)}")
        if skipped:
            self.stdout.write(f"Would skip {len(skipped)} file(s) with unsupported types.")

    def _report_ignored(self, ignored: list[str]) -> None:
        if ignored:
            self.stdout.write(
                f"Ignored {len(ignored)} file(s) in hidden or dependency folders (.git, node_modules, …) or "
                "with hidden names."
            )

    def _report(self, results: list[Result], skipped: list[str], verbosity: int) -> None:
        self.stdout.write("")
        for result in results:
            if result.failed or (result.action == "unchanged" and verbosity < 2):
                continue
            chunks = f" ({result.chunks} chunk{'' if result.chunks == 1 else 's'})" if result.action in CHANGES else ""
            self.stdout.write(f"  {PAST[result.action]:<10} {result.step.name}{chunks}")
        self.stdout.write(_summary(_counts((result.action, result.failed) for result in results)))
        if skipped:
            self.stdout.write(f"Skipped {len(skipped)} file(s) with unsupported types.")
        for result in results:
            if result.failed:
                self.stderr.write(self.style.ERROR(f"FAILED {result.step.name}: {result.message or result.status}"))


def _counts(outcomes: Iterable[tuple[str, bool]]) -> dict[str, int]:
    """(action, failed) pairs → the summary's counts. A failed source ingested again counts as updated."""
    counts = dict.fromkeys(("created", "updated", "unchanged", "retired", "failed"), 0)
    for action, failed in outcomes:
        if failed:
            counts["failed"] += 1
        else:
            counts["updated" if action == "retry" else PAST[action]] += 1
    return counts


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())
