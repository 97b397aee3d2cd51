"""`manage.py ingest --tenant SLUG --bot BOT --crawl URL [--max-pages N] [--max-depth D] [--sitemap]`: crawl a
site into a bot's knowledge (sources.crawl), the same crawl source `config.crawl` makes through the API.

Idempotent like the rest of the command: the crawl source is keyed `crawl:<normalised URL>` (its
`external_id`), so running it again crawls that source again — unchanged pages are left alone, changed ones
re-ingested, gone ones retired — instead of making a second copy. With workers the crawl runs in a worker and
this follows it from the database; without a broker it runs in this process.
"""

import time

from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from bots.models import BotProfile
from minirag.errors import DomainError
from sources import services
from sources.management.ingest_plan import normalised_url
from sources.models import IngestStage, Source, SourceStatus, SourceType
from sources.pipeline.runs import progress_listeners

KEY_PREFIX = "crawl:"


def add_crawl_arguments(parser) -> None:
    parser.add_argument("--crawl", metavar="URL", help="crawl the site from this start URL (one child per page)")
    parser.add_argument("--max-pages", type=int, help="with --crawl: most pages to fetch (default 100)")
    parser.add_argument("--max-depth", type=int, help="with --crawl: most link hops from the start page (default 2)")
    parser.add_argument("--sitemap", action="store_true", help="with --crawl: also crawl the site's sitemap")


def crawl_options(options) -> dict:
    crawl: dict = {}
    if options["max_pages"] is not None:
        crawl["max_pages"] = options["max_pages"]
    if options["max_depth"] is not None:
        crawl["max_depth"] = options["max_depth"]
    if options["sitemap"]:
        crawl["sitemap"] = True
    return crawl


def run_crawl_command(command, bot: BotProfile, options) -> None:
    """Create or update the crawl source, crawl, wait for its pages, report. Exits 1 when anything failed."""
    if options["targets"] or options["sync"] or options["dry_run"]:
        raise CommandError("--crawl runs on its own: no paths, --sync or --dry-run with it")
    url = options["crawl"].strip()
    try:
        result = services.source_upsert(
            bot_profile_id=bot.pk, name=url[:255], source_type=SourceType.URL,
            config={"url": url, "crawl": crawl_options(options)}, external_id=KEY_PREFIX + normalised_url(url),
        )  # fmt: skip
    except DomainError as error:
        raise CommandError(f"Cannot crawl {url}: {error.detail}") from None
    parent = result.source
    bar = tqdm(total=100, desc="crawling", unit="%", disable=options["no_progress"],
               bar_format="{desc} {bar} {n_fmt}% {postfix}")  # fmt: skip

    def listener(source_id: str, stage: str, progress: int) -> None:
        if source_id == str(parent.pk) and stage in (IngestStage.CRAWLING, IngestStage.DONE):
            bar.n = progress
            bar.refresh()

    progress_listeners.append(listener)
    try:
        services.source_ingest(source=parent, trigger="cli")  # without a broker, the crawl runs right here
        deadline = time.monotonic() + options["timeout"]
        parent = _wait(parent, bar, deadline)
    except DomainError as error:
        raise CommandError(f"Cannot crawl {url}: {error.detail}") from None
    finally:
        progress_listeners.remove(listener)
        bar.close()
    _report(command, parent)


def _wait(parent: Source, bar, deadline: float) -> Source:
    """Until the crawl and its pages' ingestions are done (worker mode), or the deadline."""
    while True:
        parent.refresh_from_db()
        pages = Source.objects.filter(parent=parent, is_active=True)
        busy = pages.filter(status__in=[SourceStatus.PENDING, SourceStatus.PROCESSING]).count()
        crawling = parent.stage in (IngestStage.QUEUED, IngestStage.CRAWLING)
        if not crawling:
            bar.set_postfix_str(f"{pages.count() - busy}/{pages.count()} pages ingested")
            bar.n = 100
        else:
            bar.n = parent.progress
        bar.refresh()
        if settings.CELERY_TASK_ALWAYS_EAGER or (not crawling and not busy) or time.monotonic() > deadline:
            return parent
        time.sleep(0.5)


def _report(command, parent: Source) -> None:
    report = parent.crawl_report or {}
    command.stdout.write("")
    if report:
        skipped = ", ".join(f"{reason} {count}" for reason, count in report.get("skipped", {}).items()) or "none"
        command.stdout.write(
            f"Crawled {parent.config.get('url')}: kept {report['pages']} page(s) — new {report['new']}, changed "
            f"{report['changed']}, unchanged {report['unchanged']}, retired {report['retired']}; fetched "
            f"{report['pages_fetched']} in {report['seconds']:g} s; skipped: {skipped}"
        )
        if report.get("stopped"):
            command.stdout.write(f"Stopped by a limit: {report['stopped']} (pages it did not reach were kept)")
    failed = list(Source.objects.filter(parent=parent, is_active=True, status=SourceStatus.ERROR))
    pending = Source.objects.filter(parent=parent, is_active=True).exclude(
        status__in=[SourceStatus.READY, SourceStatus.ERROR]
    )
    for child in failed:
        command.stderr.write(command.style.ERROR(f"FAILED {child.config.get('url')}: {child.error_message}"))
    if parent.status == SourceStatus.ERROR:
        command.stderr.write(command.style.ERROR(f"FAILED crawl of {parent.config.get('url')}: {parent.error_message}"))
    if parent.status == SourceStatus.ERROR or failed or pending.exists():
        if pending.exists():
            command.stderr.write(f"{pending.count()} page(s) still being ingested (see `GET /v1/sources/{parent.pk}`)")
        raise SystemExit(1)
