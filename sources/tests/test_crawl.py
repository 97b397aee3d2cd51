"""The site crawler against real local HTTP servers (http.server in threads, each on its own random loopback
address): a site of 60+ pages with links, a robots.txt, a sitemap, off-site links, redirects, duplicates and a
dead link.

The private-network allowance is the operator's setting (MINIRAG_ALLOW_PRIVATE_NETWORK), turned on per test.
Rates are measured on the server side: the time each request arrived. Counts and gaps are about the crawler's
requests only: a site gets an address of its own (not 127.0.0.1, where other test processes on the machine open
and close servers whose ephemeral ports a site could reuse) and records only requests carrying MiniRAG's
User-Agent (anything else lands in `strays`)."""

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from urllib.parse import urlsplit

import pytest

from sources import services
from sources.models import Source, SourceStatus, SourceType
from sources.pipeline import crawl_site
from sources.pipeline.fetch import USER_AGENT
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory

TOPICS = ["billing", "shipping", "returns", "accounts", "security"]


def html_page(title: str, text: str, links=(), head: str = "") -> bytes:
    anchors = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in links)
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body><main><h1>{title}</h1>"
        f"<p>{text}</p><ul>{anchors}</ul></main></body></html>"
    ).encode()


def page_text(section: int, number: int, version: str = "first") -> str:
    topic = TOPICS[section]
    return (
        f"Page {section}-{number} of the {topic} guide ({version} edition). It explains the {topic} step "
        f"number {number} in detail, with the reasons behind it and what to check afterwards. Keyword "
        f"{topic}{number}{version} identifies this page."
    )


_TAKEN_ADDRESSES: set[str] = set()


def loopback_address() -> str:
    """A loopback address no other site of this session has had (127.0.0.0/8 is all loopback on Linux)."""
    while True:
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        if host not in _TAKEN_ADDRESSES:
            _TAKEN_ADDRESSES.add(host)
            return host


class LocalSite:
    """A website on a loopback address of its own that records the crawler's requests: (arrival time, path)."""

    def __init__(self, host: str | None = None):
        host = host or loopback_address()
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[tuple[float, str]] = []
        self.strays: list[tuple[str, str]] = []  # (path, User-Agent) of requests that were not the crawler's
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.headers.get("User-Agent") == USER_AGENT:
                    site.hits.append((time.monotonic(), self.path))
                else:
                    site.strays.append((self.path, self.headers.get("User-Agent", "")))
                status, headers, body = site.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"nope"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200):
        self.routes[path] = (status, {"Content-Type": content_type}, body)

    def redirect(self, path: str, location: str, status: int = 302):
        self.routes[path] = (status, {"Location": location}, b"")

    def paths(self) -> list[str]:
        return [path for _, path in self.hits]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def build_docs_site(site: LocalSite, offsite: str) -> None:
    """Home → about + 5 sections → 10 pages each (57 pages at depth ≤ 2); /page/0/0 → /deep/1 → /deep/2 …;
    3 pages only in the sitemap; /private/ disallowed by robots.txt; one off-site link; a duplicate, a
    redirect, a redirect to a cloud metadata address, a dead link, a noindex page and an image link."""
    base = site.base
    site.page(
        "/robots.txt", f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap.xml\n".encode(), "text/plain"
    )
    entries = ["/", "/about", "/orphan/0", "/orphan/1", "/orphan/2", "/private/hidden"]
    locs = (
        "".join(f"<url><loc>{base}{path}</loc></url>" for path in entries) + f"<url><loc>{offsite}/listed</loc></url>"
    )
    sitemap = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    site.page("/sitemap.xml", sitemap.encode(), "application/xml")
    home_links = [("/about", "About"), *((f"/section/{s}", TOPICS[s]) for s in range(5))]
    home_links += [
        ("/private/secret", "Secret"), (f"{offsite}/offsite-page", "Partner"), ("mailto:help@example.com", "Mail"),
        ("/logo.png", "Logo"), ("/about#team", "Team"), ("/index.html", "Home again"), ("/moved", "Old about"),
        ("/metadata", "Metadata"), ("/gone", "Dead link"), ("/noindex", "Drafts"),
    ]  # fmt: skip
    home = html_page(
        "Help centre", "Welcome to the help centre of Example Ltd, for customers and partners.", home_links
    )
    site.page("/", home)
    site.page("/index.html", home)  # the same bytes: kept once
    site.page("/about", html_page("About us", "Example Ltd was founded in 2001 by two engineers.", [("/", "Home")]))
    site.redirect("/moved", "/about", 301)
    site.redirect("/metadata", "http://169.254.169.254/latest/meta-data/")
    site.page("/noindex", html_page("Drafts", "Unfinished drafts.", [("/section/0", "x")],
                                    head='<meta name="robots" content="noindex">'))  # fmt: skip
    site.page("/logo.png", b"\x89PNG\r\n", "image/png")
    for s, topic in enumerate(TOPICS):
        links = [(f"/page/{s}/{n}", f"{topic} {n}") for n in range(10)] + [("/", "Home")]
        site.page(f"/section/{s}", html_page(f"{topic.title()} guide", f"All about {topic}.", links))
        for n in range(10):
            links = [("/", "Home"), (f"/page/{s}/{(n + 1) % 10}", "Next")]
            if (s, n) == (0, 0):
                links.append(("/deep/1", "Deeper"))
            site.page(f"/page/{s}/{n}", html_page(f"{topic.title()} {n}", page_text(s, n), links))
    for n in range(1, 6):
        site.page(f"/deep/{n}", html_page(f"Deep {n}", f"Level {n} of the deep chain.", [(f"/deep/{n + 1}", "on")]))
    for n in range(3):
        site.page(f"/orphan/{n}", html_page(f"Orphan {n}", f"Orphan page {n} mentions the zebra{n} policy."))
    site.page("/private/secret", html_page("Secret", "Nobody should read this."))
    site.page("/private/hidden", html_page("Hidden", "Nobody should read this either."))


@pytest.fixture
def offsite():
    server = LocalSite()
    server.page("/offsite-page", html_page("Partner", "A partner's page."))
    yield server
    server.stop()


@pytest.fixture
def site(offsite):
    server = LocalSite()
    build_docs_site(server, offsite.base)
    yield server
    server.stop()


@pytest.fixture
def allow_private(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True


@pytest.fixture
def in_process(settings):
    """The pages' HTML is parsed in this process (the isolation has its own tests): quicker."""
    settings.EXTRACTION_TIMEOUT_SECONDS = 0
    settings.EXTRACTION_MAX_MEMORY_MB = 0


@pytest.fixture
def fast(settings, monkeypatch, in_process):
    """Tests that are not about the rate crawl with a short delay."""
    monkeypatch.setattr(crawl_site, "MIN_DELAY_SECONDS", 0.01)
    settings.CRAWL_DELAY_SECONDS = 0.01


def crawl_source(site: LocalSite, bot=None, **options) -> Source:
    kwargs = {"bot_profile": bot} if bot else {}
    config = {"url": f"{site.base}/", "crawl": crawl_site.parse_crawl_options(options).as_config()}
    return SourceFactory(source_type=SourceType.URL, content=None, config=config, name="Help centre", **kwargs)


def crawl(run_on_commit, parent: Source) -> Source:
    run_on_commit(services.source_ingest, source=parent)
    parent.refresh_from_db()
    return parent


def children(parent: Source, **filters) -> dict[str, Source]:
    """The parent's children by their page's path."""
    return {urlsplit(row.config["url"]).path: row for row in Source.objects.filter(parent=parent, **filters)}


def paths_of(parent: Source) -> set[str]:
    return set(children(parent, is_active=True))


SITE_PAGES = (
    {"/", "/about"} | {f"/section/{s}" for s in range(5)} | {f"/page/{s}/{n}" for s in range(5) for n in range(10)}
)


def test_crawl_keeps_the_site_within_its_limits(in_tenant, site, offsite, allow_private, fast, run_on_commit):
    parent = crawl(run_on_commit, crawl_source(site, max_pages=200, max_depth=3, sitemap=True))

    assert parent.status == SourceStatus.READY, parent.error_message
    expected = SITE_PAGES | {"/orphan/0", "/orphan/1", "/orphan/2", "/deep/1"}
    assert paths_of(parent) == expected
    report = parent.crawl_report
    assert report["pages"] == report["new"] == len(expected) == 61 and report["stopped"] is None
    # robots.txt first, once; disallowed paths never requested, not even from the sitemap
    assert site.paths()[0] == "/robots.txt" and site.paths().count("/robots.txt") == 1
    assert not [path for path in site.paths() if path.startswith("/private/")]
    assert report["skipped"]["robots"] == 2
    # depth: /deep/1 is 3 hops from the start page, /deep/2 would be 4
    assert "/deep/1" in site.paths() and "/deep/2" not in site.paths()
    # same site: the off-site server never heard from us (not even for its robots.txt); neither did the
    # metadata address /metadata redirects to
    assert offsite.hits == [] and report["skipped"]["off_site"] == 3 and report["errors"] == []
    assert report["skipped"]["duplicate"] == 2  # /index.html (same bytes) and /moved (→ /about)
    assert report["skipped"]["gone"] == 1 and report["skipped"]["noindex"] == 1
    assert "/logo.png" not in site.paths() and report["skipped"]["unsupported"] == 1
    # every page was fetched once: ingestion read the stored body, it did not fetch the page again
    page_hits = [path for path in site.paths() if path not in ("/robots.txt", "/sitemap.xml")]
    assert len(page_hits) == len(set(page_hits)) == report["pages_fetched"]
    pages = children(parent)
    assert all(child.status == SourceStatus.READY for child in pages.values())
    assert pages["/page/2/7"].name == "Returns 7" and pages["/page/2/7"].content.startswith("<!doctype html>")
    hits = retrieve(bot=parent.bot_profile, query="zebra1 policy")
    assert hits and "zebra1" in hits[0].content


def test_max_pages_stops_the_crawl(in_tenant, site, allow_private, fast, run_on_commit):
    parent = crawl(run_on_commit, crawl_source(site, max_pages=5, max_depth=5))
    report = parent.crawl_report
    assert report["pages_fetched"] == 5 and report["stopped"] == "max_pages"
    assert len([path for path in site.paths() if path != "/robots.txt"]) == 5
    assert len(paths_of(parent)) == 5 and parent.status == SourceStatus.READY


def test_max_depth_zero_keeps_only_the_start_page(in_tenant, site, allow_private, fast, run_on_commit):
    parent = crawl(run_on_commit, crawl_source(site, max_depth=0))
    assert paths_of(parent) == {"/"} and site.paths() == ["/robots.txt", "/"]


def test_include_exclude_and_leaving_the_site(in_tenant, site, offsite, allow_private, fast, run_on_commit):
    parent = crawl(run_on_commit, crawl_source(site, max_depth=1, include=["/section/"], exclude=["/section/4"]))
    assert paths_of(parent) == {"/", "/section/0", "/section/1", "/section/2", "/section/3"}
    assert offsite.hits == []

    other = crawl(run_on_commit, crawl_source(site, max_depth=1, same_site=False))
    assert offsite.paths() == ["/robots.txt", "/offsite-page"]  # robots.txt of the other host first
    assert f"{offsite.base}/offsite-page" in {row.config["url"] for row in Source.objects.filter(parent=other)}
    # the redirect to the cloud metadata address: refused by the SSRF guard (for its robots.txt already)
    report = other.crawl_report
    assert report["skipped"]["refused"] == 1 and "link-local" in report["errors"][0]["error"]


@pytest.mark.parametrize(
    ("setting", "option", "delay"),
    [
        (None, None, 1.0),  # the default: one request per second per host
        (0.0, None, crawl_site.MIN_DELAY_SECONDS),  # the floor, whatever the operator sets
        (0.0, 0.4, 0.4),  # a source may ask to be slower
    ],
)
def test_requests_to_one_host_are_spaced(
    in_tenant, site, allow_private, in_process, settings, run_on_commit, setting, option, delay
):
    if setting is not None:
        settings.CRAWL_DELAY_SECONDS = setting
    options = {"max_pages": 3, "max_depth": 1} | ({"delay_seconds": option} if option else {})
    parent = crawl(run_on_commit, crawl_source(site, **options))
    assert parent.crawl_report["pages_fetched"] == 3
    arrivals = [when for when, _ in site.hits]
    assert len(arrivals) == 4  # robots.txt + 3 pages
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert min(gaps) >= delay, gaps


def test_robots_crawl_delay_slows_the_crawl(in_tenant, site, allow_private, fast, run_on_commit):
    site.page("/robots.txt", b"User-agent: *\nCrawl-delay: 1\n", "text/plain")  # whole seconds (urllib.robotparser)
    crawl(run_on_commit, crawl_source(site, max_pages=3, max_depth=1))
    arrivals = [when for when, _ in site.hits]
    assert min(later - earlier for earlier, later in pairwise(arrivals)) >= 1.0


def test_private_address_is_refused_when_not_allowed(in_tenant, site, settings, fast, run_on_commit):
    parent = crawl_source(site)  # stored while allowed; the operator then turns the allowance off
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    parent = crawl(run_on_commit, parent)
    assert parent.status == SourceStatus.ERROR
    assert "private and loopback addresses are not allowed" in parent.error_message
    assert site.hits == []  # not even robots.txt
    assert parent.crawl_report["skipped"] == {"refused": 1} and not Source.objects.filter(parent=parent).exists()


def test_robots_disallowing_everything_keeps_nothing(in_tenant, site, allow_private, fast, run_on_commit):
    site.page("/robots.txt", b"User-agent: MiniRAG\nDisallow: /\n", "text/plain")
    parent = crawl(run_on_commit, crawl_source(site))
    assert parent.status == SourceStatus.ERROR and "1 robots" in parent.error_message
    assert site.paths() == ["/robots.txt"]


def test_unreachable_robots_txt_means_nothing_is_fetched(in_tenant, site, allow_private, fast, run_on_commit):
    site.routes["/robots.txt"] = (503, {"Content-Type": "text/plain"}, b"busy")
    parent = crawl(run_on_commit, crawl_source(site))
    assert parent.status == SourceStatus.ERROR and "HTTP 503" in parent.error_message
    assert site.paths() == ["/robots.txt"]


def test_refresh_reingests_only_the_changed_page(in_tenant, site, allow_private, fast, run_on_commit, captured_events):
    parent = crawl(run_on_commit, crawl_source(site, max_depth=2))
    assert paths_of(parent) == SITE_PAGES
    before = {path: child.current_document_id for path, child in children(parent).items()}
    captured_events.clear()

    # Given one page changed and one page gone
    site.page("/page/1/3", html_page("Shipping 3", page_text(1, 3, version="second"), [("/", "Home")]))
    site.routes["/page/4/9"] = (404, {"Content-Type": "text/plain"}, b"gone")
    site.hits.clear()
    # When the source is refreshed (a re-crawl)
    parent = crawl(run_on_commit, parent)

    report = parent.crawl_report
    assert report["changed"] == 1 and report["new"] == 0 and report["retired"] == 1
    assert report["unchanged"] == len(SITE_PAGES) - 2 and report["retired_urls"] == [f"{site.base}/page/4/9"]
    ingested = [payload["source_id"] for event, payload in captured_events if event == "source.ingested"]
    pages = children(parent)
    assert sorted(ingested) == sorted([str(pages["/page/1/3"].pk), str(parent.pk)])  # one page, and the crawl
    assert pages["/page/1/3"].current_document_id != before["/page/1/3"]
    unchanged = set(before) - {"/page/1/3", "/page/4/9"}
    assert all(pages[path].current_document_id == before[path] for path in unchanged)
    # the page that is gone is retired: deactivated, its knowledge out of answers
    retired = pages["/page/4/9"]
    assert retired.is_active is False and paths_of(parent) == SITE_PAGES - {"/page/4/9"}
    assert all(hit.source_id != str(retired.pk) for hit in retrieve(bot=parent.bot_profile, query="security9first"))
    hits = retrieve(bot=parent.bot_profile, query="shipping3second")
    assert hits[0].source_id == str(pages["/page/1/3"].pk) and "shipping3second" in hits[0].content


def test_incomplete_crawl_retires_only_pages_that_are_gone(in_tenant, site, allow_private, fast, run_on_commit):
    parent = crawl(run_on_commit, crawl_source(site, max_depth=1))
    assert paths_of(parent) == {"/", "/about"} | {f"/section/{s}" for s in range(5)}
    site.routes["/section/0"] = (404, {"Content-Type": "text/plain"}, b"gone")
    parent.config = {**parent.config, "crawl": {**parent.config["crawl"], "max_pages": 5}}
    parent.save(update_fields=["config"])
    parent = crawl(run_on_commit, parent)
    # the crawl stopped at 5 pages (/, /about, /section/0-2): the children it did not reach stay, the one that
    # answered 404 goes
    assert parent.crawl_report["stopped"] == "max_pages" and parent.crawl_report["retired"] == 1
    assert paths_of(parent) == {"/", "/about"} | {f"/section/{s}" for s in (1, 2, 3, 4)}


def test_the_sources_quota_stops_the_crawl(in_tenant, site, allow_private, fast, run_on_commit, settings):
    parent = crawl_source(site, max_depth=2)
    unlimited = dict.fromkeys(settings.PLANS["free"])
    settings.PLANS = {
        **settings.PLANS,
        "tight": {**unlimited, "sources": Source.objects.filter(is_active=True).count() + 4},
    }
    in_tenant.tenant.plan = "tight"
    try:
        parent = crawl(run_on_commit, parent)
    finally:
        in_tenant.tenant.plan = "free"  # the session's handle outlives this test's transaction
    report = parent.crawl_report
    assert report["stopped"] == "quota" and report["pages"] == 4 and "sources" in report["errors"][-1]["error"]
    assert len(paths_of(parent)) == 4 and parent.status == SourceStatus.READY


def test_the_total_bytes_cap_stops_the_crawl(in_tenant, site, allow_private, fast, run_on_commit, settings):
    settings.CRAWL_MAX_TOTAL_BYTES = 2_000
    parent = crawl(run_on_commit, crawl_source(site, max_depth=2))
    report = parent.crawl_report
    largest = max(len(body) for _, _, body in site.routes.values())
    assert report["stopped"] == "max_bytes" and 2_000 <= report["bytes"] < 2_000 + largest
    assert report["pages_fetched"] == len(site.paths()) - 1 < 10  # robots.txt counts towards bytes, not pages


def test_passing_failures_never_retire_pages(in_tenant, site, allow_private, fast, run_on_commit):
    parent = crawl(run_on_commit, crawl_source(site, max_depth=2))
    # Given the shipping section failing for a while: its ten pages are not reached
    site.routes["/section/1"] = (503, {"Content-Type": "text/plain"}, b"busy")
    parent = crawl(run_on_commit, parent)
    assert parent.crawl_report["retired"] == 0 and paths_of(parent) == SITE_PAGES
    # Given the whole site failing (robots.txt answers 503): the crawl fails, the pages keep their knowledge
    site.routes["/robots.txt"] = (503, {"Content-Type": "text/plain"}, b"busy")
    parent = crawl(run_on_commit, parent)
    assert parent.status == SourceStatus.ERROR and parent.crawl_report["retired"] == 0
    assert paths_of(parent) == SITE_PAGES
    assert "shipping3first" in retrieve(bot=parent.bot_profile, query="shipping3first")[0].content
