"""The site crawler: from a start URL (and, if asked, the site's sitemap), breadth first, within the crawl's
limits. It yields the pages worth keeping; sources/crawl.py turns them into child sources.

- Every request — pages, robots.txt, sitemaps, each redirect — goes through `fetch_url` (SSRF guard on every
  hop, connection to the checked address, size cap), one at a time, at least `options.delay` seconds after
  the previous request to the same host ended (more if its robots.txt asks for a Crawl-delay).
- robots.txt (RFC 9309, agent "MiniRAG") is read once per host before the first page there; a redirect into a
  disallowed path, or off the site when `same_site`, is refused before it is requested.
- Limits: `max_pages` pages fetched (robots.txt and sitemaps not counted), `max_depth` link hops from the
  start page (sitemap entries are depth 0), CRAWL_MAX_TOTAL_BYTES downloaded, a deadline. When one stops the
  crawl, `log.stopped` says which.
- Not kept: pages outside the scope (off-site, include/exclude, file types that hold no text), disallowed by
  robots.txt, `noindex`, unsupported content types, and a page whose bytes equal one already kept
  (`/` and `/index.html`). `nofollow` pages and links are not followed.
"""

import hashlib
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from sources.pipeline.crawl_site import (
    CrawlOptions,
    PageLinks,
    Politeness,
    Robots,
    Scope,
    normalize_url,
    origin_of,
    page_links,
    parse_sitemap,
    robots_from_body,
    robots_from_status,
)
from sources.pipeline.extract import ExtractionError, decode_text, kind_for_content_type
from sources.pipeline.fetch import FetchRefused, HTTPStatusError, fetch_url

GONE_STATUSES = (404, 410)
MAX_SITEMAP_FILES = 20
MAX_LISTED_ERRORS = 20


class HopRefused(ExtractionError):
    """A redirect the crawl does not follow (`reason`: "off_site", "excluded", "unsupported", "robots", or
    "refused": the SSRF guard refused the target host already when its robots.txt was asked for)."""

    def __init__(self, reason: str, url: str, message: str = ""):
        super().__init__(message or f"not following the redirect to {url} ({reason})")
        self.reason = reason


@dataclass
class Page:
    """A page worth keeping: its final URL (after redirects), how it was fetched, and a digest of its bytes."""

    url: str
    depth: int
    body: bytes
    content_type: str
    kind: str  # sources.pipeline.extract's kind: "html", "text", "csv", "pdf", ...
    title: str
    sha256: str
    text: str | None = None  # the decoded body of an HTML page


@dataclass
class CrawlLog:
    requests: int = 0
    bytes: int = 0
    pages_fetched: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → URLs not kept for it
    errors: list[dict] = field(default_factory=list)  # the first MAX_LISTED_ERRORS: {"url", "error"}
    gone: set[str] = field(default_factory=set)  # answered 404 or 410
    # failed for a passing reason (5xx, timeout, network, robots.txt unreachable or refused)
    failed: set[str] = field(default_factory=set)
    sitemaps: list[dict] = field(default_factory=list)
    stopped: str | None = None  # "max_pages", "max_bytes", "time_limit"; or the run's: "quota", "superseded"

    def error(self, reason: str, url: str, message: str) -> None:
        self.skipped[reason] += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append({"url": url, "error": message[:500]})


class Crawler:
    def __init__(self, start_url: str, options: CrawlOptions, *, time_limit: float, clock=time.monotonic):
        start = normalize_url(start_url)
        if start is None:
            raise ExtractionError(f"Cannot crawl {start_url!r}: not an http(s) URL")
        self.start_url, self.options, self.scope = start, options, Scope(start, options)
        self._clock = clock
        self.deadline = clock() + time_limit
        self.politeness = Politeness(options.delay, deadline=self.deadline, clock=clock)
        self.log = CrawlLog()
        self._robots: dict[str, Robots] = {}  # by origin
        self._seen: set[str] = set()  # every URL queued or refused, once
        self._kept: set[str] = set()  # final URLs of the pages yielded
        self._digests: set[str] = set()
        self._frontier: deque[tuple[str, int]] = deque()
        self._hops = 0

    # --- the walk ------------------------------------------------------------------------------------------

    def pages(self) -> Iterator[Page]:
        """The pages to keep, as they are fetched; `log` holds the rest of the story."""
        self._seen.add(self.start_url)
        self._frontier.append((self.start_url, 0))  # the start page is crawled whatever include/exclude say
        try:
            if self.options.sitemap:
                for url in self._sitemap_urls():
                    self._enqueue(url, 0)
            while self._frontier:
                stop = self._limit_reached()
                if stop:
                    self.log.stopped = stop
                    break
                page = self._visit(*self._frontier.popleft())
                if page is not None:
                    yield page
        except TimeoutError:  # the per-host wait would pass the deadline
            self.log.stopped = "time_limit"
        finally:
            self.politeness.finished()

    def _limit_reached(self) -> str | None:
        if self.log.pages_fetched >= self.options.max_pages:
            return "max_pages"
        if self.log.bytes >= settings.CRAWL_MAX_TOTAL_BYTES:
            return "max_bytes"
        if self._clock() >= self.deadline:
            return "time_limit"
        return None

    def _enqueue(self, url: str, depth: int) -> None:
        if url in self._seen:
            return
        self._seen.add(url)
        reason = self.scope.refusal(url)
        if reason:
            self.log.skipped[reason] += 1
            return
        self._frontier.append((url, depth))

    def _visit(self, url: str, depth: int) -> Page | None:
        robots = self._robots_for(url)
        if robots.refusal:
            self.log.failed.add(url)  # not known to be gone: its child, if any, stays
            self.log.error(robots.reason, url, robots.refusal)
            return None
        if not robots.allows(url):
            self.log.skipped["robots"] += 1
            return None
        self.log.pages_fetched += 1
        fetched = self._fetch_page(url)
        if fetched is None:
            return None
        final = normalize_url(fetched.final_url) or url
        self._seen.add(final)
        if final in self._kept:
            self.log.skipped["duplicate"] += 1
            return None
        kind = kind_for_content_type(fetched.content_type, fetched.body[:512])
        if kind is None:
            self.log.skipped["unsupported"] += 1
            return None
        text, links = None, PageLinks()
        if kind == "html":
            try:
                text = decode_text(fetched.body)
            except ExtractionError as error:
                self.log.error("failed", final, str(error))
                return None
            links = page_links(text, final)
            if depth < self.options.max_depth and not links.nofollow:
                for link in links.links:
                    self._enqueue(link, depth + 1)
        if links.noindex:
            self.log.skipped["noindex"] += 1
            return None
        digest = hashlib.sha256(fetched.body).hexdigest()
        if digest in self._digests:
            self.log.skipped["duplicate"] += 1
            return None
        self._digests.add(digest)
        self._kept.add(final)
        title = links.title or (urlsplit(final).path.rstrip("/").rsplit("/", 1)[-1] or final)
        return Page(final, depth, fetched.body, fetched.content_type, kind, title[:255], digest, text)

    def _fetch_page(self, url: str):
        """The page fetched, or None (and the reason logged)."""
        self._hops = 0
        try:
            fetched = fetch_url(url, before_hop=self._page_hop)
        except HopRefused as error:
            if error.reason == "refused":
                self.log.error("refused", url, str(error))
            else:
                self.log.skipped[error.reason] += 1
            return None
        except FetchRefused as error:
            self.log.error("refused", url, str(error))
            return None
        except HTTPStatusError as error:
            if error.status_code in GONE_STATUSES:
                self.log.gone.add(url)
                self.log.skipped["gone"] += 1
            else:
                self.log.failed.add(url)
                self.log.error("failed", url, str(error))
            return None
        except ExtractionError as error:  # timeout, network, too large, too many redirects
            self.log.failed.add(url)
            self.log.error("failed", url, str(error))
            return None
        finally:
            self.politeness.finished()
        self.log.bytes += len(fetched.body)
        return fetched

    # --- before every request ------------------------------------------------------------------------------

    def _page_hop(self, url: str) -> None:
        """A page's request, or one of its redirects: the redirect must stay in scope and allowed by robots.txt."""
        self._hops += 1
        if self._hops > 1:
            target = normalize_url(url)
            reason = self.scope.refusal(target) if target else "unsupported"
            if not reason and target in self._kept:
                reason = "duplicate"  # e.g. /moved → /about, kept already: not fetched again
            if reason:
                raise HopRefused(reason, url)
            robots = self._robots_for(target)
            if robots.refusal:
                raise HopRefused(robots.reason, url, robots.refusal)
            if not robots.allows(target):
                raise HopRefused("robots", url)
        self._plain_hop(url)

    def _plain_hop(self, url: str) -> None:
        self.politeness.before(url)
        self.log.requests += 1

    # --- robots.txt and sitemaps ---------------------------------------------------------------------------

    def _robots_for(self, url: str) -> Robots:
        origin = origin_of(url)
        if origin not in self._robots:
            self._robots[origin] = robots = self._fetch_robots(origin)
            self.politeness.slow_down(urlsplit(origin).netloc, robots.crawl_delay())
        return self._robots[origin]

    def _fetch_robots(self, origin: str) -> Robots:
        host = urlsplit(origin).netloc
        try:
            fetched = fetch_url(f"{origin}/robots.txt", before_hop=self._plain_hop)
        except HTTPStatusError as error:
            return robots_from_status(error.status_code, host)
        except FetchRefused as error:
            return Robots(refusal=str(error), reason="refused")
        except ExtractionError as error:
            return Robots(refusal=f"robots.txt of {host} could not be fetched ({error}); nothing there is fetched")
        finally:
            self.politeness.finished()
        self.log.bytes += len(fetched.body)
        return robots_from_body(fetched.body)

    def _sitemap_urls(self) -> list[str]:
        """The page URLs of the sitemap given, or of those robots.txt names, or of /sitemap.xml."""
        sitemap = self.options.sitemap
        if isinstance(sitemap, str):
            queue = [normalize_url(sitemap) or sitemap]
        else:
            queue = self._robots_for(self.start_url).sitemaps() or [f"{origin_of(self.start_url)}/sitemap.xml"]
        found: list[str] = []
        for _file in range(MAX_SITEMAP_FILES):
            if not queue or self._limit_reached():
                break
            url = queue.pop(0)
            try:
                fetched = fetch_url(url, before_hop=self._plain_hop)
                self.log.bytes += len(fetched.body)
                parsed = parse_sitemap(fetched.body, fetched.final_url)
            except (ExtractionError, ValueError) as error:
                self.log.sitemaps.append({"url": url, "error": str(error)[:500]})
                continue
            finally:
                self.politeness.finished()
            if parsed.is_index:
                queue.extend(parsed.locations[:MAX_SITEMAP_FILES])
                self.log.sitemaps.append({"url": url, "sitemaps": len(parsed.locations)})
            else:
                found.extend(parsed.locations)
                self.log.sitemaps.append({"url": url, "urls": len(parsed.locations)})
        return found
