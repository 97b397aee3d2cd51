"""A crawl run, in the worker (the `crawl_source` task; queued by `sources.services.source_ingest` for a crawl
source: a top-level URL source with `config.crawl`).

    claim the parent → crawl its site (sources.pipeline.crawl) → one child source per page → retire → report

- Each page kept becomes (or updates) a child: a URL source with the page's URL, its title as name, and the
  fetched body stored in `content` (HTML and text; the ingestion extracts it from there instead of fetching it
  again — see `sources.pipeline.ingest.extract_source`), plus the SHA-256 of the body (`file_sha256`).
- A new page, or a page whose bytes changed, is queued for ingestion at once (its own transaction), so
  workers ingest while the crawl goes on. A page with the same bytes as last time is left alone: it is not
  ingested again (a child whose last ingestion failed is retried).
- Pages that disappeared: a child whose page answered 404 or 410 is retired; after a complete crawl (no limit
  stopped it and no page failed for a passing reason — 5xx, timeout, an unreachable robots.txt — which could
  hide the pages behind it) so is every child whose page was not reached any more (unlinked, now disallowed by
  robots.txt, outside the options, noindex). A crawl that kept no page retires nothing (it failed; the children
  keep their knowledge). Retired = deactivated like `DELETE /v1/sources/{id}`: its knowledge leaves answers at
  once; it stays readable with `is_active: false`. The report lists the retired URLs.
- Progress: the parent shows `status: processing`, `stage: crawling` and `progress` (pages fetched against
  `max_pages`) while it runs; at the end `crawl_report` says what was fetched, kept, skipped and why it stopped.
- Bounded: `max_pages` (≤ CRAWL_MAX_PAGES), `max_depth`, CRAWL_MAX_TOTAL_BYTES, CRAWL_TIME_LIMIT_SECONDS, the
  plan's `sources` quota; the run holds the ingestion lease, so a killed worker is failed by the sweeper.
"""

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from minirag import events
from minirag.errors import QuotaExceeded
from sources.models import IngestStage, Source, SourceStatus, SourceType
from sources.pipeline.crawl import Crawler, CrawlLog, Page
from sources.pipeline.crawl_site import CrawlOptionsError, parse_crawl_options
from sources.pipeline.extract import ExtractionError, decode_text
from sources.pipeline.runs import Lease, fail_source, failure_detail, notify_listeners, report_progress
from sources.services.ingestion import source_ingest
from sources.services.update import source_delete
from usage.services import quota_check

logger = logging.getLogger("minirag.crawl")

# Kinds whose body is stored on the child (text); other kinds (PDF, ...) are fetched again by their ingestion.
STORED_KINDS = ("html", "text", "csv")
MAX_LISTED_URLS = 20


class Superseded(Exception):
    """The parent was deleted, deactivated or queued again: this run stops and writes nothing more."""


@dataclass
class Tally:
    before: dict[str, Source]  # URL → child, the parent's active children when the crawl started
    pages: dict[str, Source] = field(default_factory=dict)  # URL → child, of the pages kept by this crawl
    counts: Counter = field(default_factory=Counter)  # "new", "changed", "unchanged", "retried", "retired"
    retired: list[str] = field(default_factory=list)


def time_limit() -> float:
    """The crawl's own deadline, inside the sweeper's patience (a run older than that is failed as stuck)."""
    return float(max(10, min(settings.CRAWL_TIME_LIMIT_SECONDS, settings.INGEST_STUCK_AFTER_SECONDS - 120)))


def run_crawl(*, source_id: str, token: str | None = None, trigger: str = "manual") -> str:
    """Crawl the parent's site (the `crawl_source` task's body). Returns "ready", "error", "superseded",
    "missing" or "inactive". Emits `source.ingested` for the parent when the crawl kept pages, `source.failed`
    when it could not crawl (its children's ingestions emit their own events)."""
    claimed = _claim(source_id, token)
    if isinstance(claimed, str):
        logger.info("crawl %s skipped: %s", source_id, claimed)
        return claimed
    parent, token = claimed
    logger.info("crawl %s started (trigger=%s)", source_id, trigger)
    try:
        with Lease(source_id=str(parent.pk), token=token):
            tally, log, started = _crawl(parent, token)
            if log.stopped == "superseded":
                return "superseded"
            _retire(parent, tally, log)
            return _finish(parent, token, tally, log, started)
    except Exception as error:  # noqa: BLE001 - any failure fails the crawl; a killed worker is the sweeper's
        message = _failure_message(source_id, error)
        fail_source(parent, token, message, detail=failure_detail(error))
        return "error"


def _claim(source_id: str, token: str | None) -> tuple[Source, str] | str:
    with transaction.atomic():
        parent = Source.objects.select_for_update().filter(pk=source_id).defer("content").first()
        if parent is None:
            return "missing"
        if token and parent.ingest_token and str(parent.ingest_token) != token:
            return "superseded"
        if not parent.is_active:
            Source.objects.filter(pk=parent.pk).update(stage=None, progress=0)
            return "inactive"
        token = token or str(uuid.uuid4())
        parent.ingest_token = token
        parent.status, parent.stage, parent.progress = SourceStatus.PROCESSING, IngestStage.CRAWLING, 0
        parent.error_message, parent.error_detail = None, ""
        parent.processing_started_at = parent.heartbeat_at = timezone.now()
        parent.save(
            update_fields=[
                "ingest_token", "status", "stage", "progress", "error_message", "error_detail", "processing_started_at",
                "heartbeat_at", "updated_at",
            ]
        )  # fmt: skip
    notify_listeners(str(parent.pk), IngestStage.CRAWLING, 0)
    return parent, str(token)


def _crawl(parent: Source, token: str) -> tuple[Tally, CrawlLog, float]:
    options = parse_crawl_options((parent.config or {}).get("crawl"))
    crawler = Crawler((parent.config or {}).get("url") or "", options, time_limit=time_limit())
    children = Source.objects.filter(parent=parent, is_active=True).defer("content")
    tally = Tally(before={(child.config or {}).get("url") or "": child for child in children})
    started = time.monotonic()
    for page in crawler.pages():
        try:
            outcome, child = _keep(parent, token, page, tally.before.get(page.url))
        except QuotaExceeded as error:
            crawler.log.stopped = "quota"
            crawler.log.error("quota", page.url, str(error.detail))
            break
        except Superseded:
            crawler.log.stopped = "superseded"
            break
        tally.pages[page.url] = child
        tally.counts[outcome] += 1
        progress = min(99, 100 * crawler.log.pages_fetched // options.max_pages)
        report_progress(parent, token, IngestStage.CRAWLING, progress)
    return tally, crawler.log, started


def _stored_content(page: Page) -> str | None:
    if page.kind not in STORED_KINDS:
        return None
    if page.text is not None:
        return page.text
    try:
        return decode_text(page.body)
    except ExtractionError:
        return None  # its ingestion fetches and decodes it itself (and says why it cannot)


def _keep(parent: Source, token: str, page: Page, child: Source | None) -> tuple[str, Source]:
    """Create or update the page's child and queue its ingestion when it is new or changed (one transaction:
    the task is sent when it commits)."""
    config = {"url": page.url, "crawl_page": {"content_type": page.content_type[:200], "depth": page.depth}}
    with transaction.atomic():
        owner = Source.objects.select_for_update().filter(pk=parent.pk, ingest_token=token, is_active=True)
        if not owner.exists():
            raise Superseded
        if child is None:
            quota_check(adding={"sources": 1, "chunks": 1})  # 403-worthy: the crawl stops, pages kept so far stay
            child = Source.objects.create(
                bot_profile_id=parent.bot_profile_id, parent=parent, name=page.title, source_type=SourceType.URL,
                config=config, content=_stored_content(page), file_sha256=page.sha256,
            )  # fmt: skip
            source_ingest(source=child, trigger="crawl")
            return "new", child
        if child.file_sha256 == page.sha256:
            if child.status in (SourceStatus.READY, SourceStatus.PROCESSING) or child.stage == IngestStage.QUEUED:
                return "unchanged", child
            source_ingest(source=child, trigger="crawl")  # same bytes, but its last ingestion failed
            return "retried", child
        changes = {"name": page.title, "config": config, "content": _stored_content(page), "file_sha256": page.sha256}
        if child.status == SourceStatus.PROCESSING:  # a run in flight ingests the old bytes: superseded
            changes |= {"status": SourceStatus.PENDING, "ingest_token": None, "processing_started_at": None}
        Source.objects.filter(pk=child.pk).update(**changes, updated_at=timezone.now())
        for name, value in changes.items():
            setattr(child, name, value)
        # Its status stays (its knowledge answers until the new version is published); the ingestion skips
        # chunking and embedding when the extracted text turns out the same.
        source_ingest(source=child, trigger="crawl")
        return "changed", child


def _retire(parent: Source, tally: Tally, log: CrawlLog) -> None:
    """Deactivate the children whose pages are gone (see the module docstring for when)."""
    if not tally.pages:
        return
    complete = log.stopped is None and not log.failed
    for url, child in tally.before.items():
        if url in tally.pages or url in log.failed:
            continue
        if url in log.gone or complete:
            source_delete(source=child)
            tally.counts["retired"] += 1
            if len(tally.retired) < MAX_LISTED_URLS:
                tally.retired.append(url)


def _report(tally: Tally, log: CrawlLog, started: float) -> dict:
    return {
        "finished_at": timezone.now().isoformat(),
        "seconds": round(time.monotonic() - started, 2),
        "pages": len(tally.pages),
        "new": tally.counts["new"],
        "changed": tally.counts["changed"],
        "unchanged": tally.counts["unchanged"],
        "retried": tally.counts["retried"],
        "retired": tally.counts["retired"],
        "retired_urls": tally.retired,
        "pages_fetched": log.pages_fetched,
        "requests": log.requests,
        "bytes": log.bytes,
        "skipped": dict(sorted(log.skipped.items())),
        "errors": log.errors,
        "sitemaps": log.sitemaps,
        "stopped": log.stopped,
    }


def _finish(parent: Source, token: str, tally: Tally, log: CrawlLog, started: float) -> str:
    report = _report(tally, log, started)
    if not tally.pages:
        message = _nothing_kept(parent, log)
        Source.objects.filter(pk=parent.pk, ingest_token=token).update(crawl_report=report)
        fail_source(parent, token, message)
        logger.info("crawl %s kept no page: %s", parent.pk, message)
        return "error"
    with transaction.atomic():
        updated = Source.objects.filter(pk=parent.pk, ingest_token=token, is_active=True).update(
            status=SourceStatus.READY, stage=IngestStage.DONE, progress=100, error_message=None, error_detail="",
            processing_started_at=None, heartbeat_at=None, last_refreshed_at=timezone.now(), crawl_report=report,
            updated_at=timezone.now(),
        )  # fmt: skip
        if not updated:
            return "superseded"
        summary = {key: report[key] for key in ("pages", "new", "changed", "unchanged", "retired", "stopped")}
        events.emit(
            events.SOURCE_INGESTED,
            {"source_id": str(parent.pk), "source_name": parent.name, "document_count": 0,
             "chunk_count": 0, "crawl": summary},
        )  # fmt: skip
    notify_listeners(str(parent.pk), IngestStage.DONE, 100)
    logger.info("crawl %s finished: %s", parent.pk, report)
    return "ready"


def _nothing_kept(parent: Source, log: CrawlLog) -> str:
    start = (parent.config or {}).get("url")
    if log.errors:
        return f"The crawl of {start} kept no page: {log.errors[0]['error']}"
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(log.skipped.items())) or "no page found"
    return f"The crawl of {start} kept no page (skipped: {reasons})"


def _failure_message(source_id: str, error: Exception) -> str:
    if isinstance(error, SoftTimeLimitExceeded):
        return "The crawl took too long and was stopped; lower max_pages or try again"
    if isinstance(error, CrawlOptionsError):
        return f"config.crawl: {error}"
    if isinstance(error, ExtractionError):
        return str(error)
    logger.error("crawl %s crashed", source_id, exc_info=error)
    return "The crawl failed because of an internal error; try again later"
