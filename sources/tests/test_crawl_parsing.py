"""The crawler's parts that need no network: options, URLs and scope, links and robots meta tags, sitemaps,
robots.txt answers, and the per-host wait (on a fake clock)."""

import gzip

import pytest

from sources.pipeline.crawl_site import (
    CrawlOptions,
    CrawlOptionsError,
    Politeness,
    Scope,
    normalize_url,
    page_links,
    parse_crawl_options,
    parse_sitemap,
    robots_from_body,
    robots_from_status,
)


def test_options_defaults_and_caps(settings):
    settings.CRAWL_MAX_PAGES = 30
    options = parse_crawl_options(True)
    assert (options.max_pages, options.max_depth, options.same_site, options.sitemap) == (30, 2, True, False)
    with pytest.raises(CrawlOptionsError, match="between 1 and 30") as refused:
        parse_crawl_options({"max_pages": 31})
    assert refused.value.key == "max_pages"
    stored = parse_crawl_options({"include": "/docs/", "sitemap": " https://a.example/sm.xml "}).as_config()
    assert stored["include"] == ["/docs/"] and stored["sitemap"] == "https://a.example/sm.xml"


def test_delay_never_goes_below_the_floor_or_the_operators_setting(settings):
    settings.CRAWL_DELAY_SECONDS = 0.0
    assert parse_crawl_options({}).delay == 0.2
    settings.CRAWL_DELAY_SECONDS = 1.0
    assert parse_crawl_options({"delay_seconds": 0.1}).delay == 1.0  # a source may only go slower
    assert parse_crawl_options({"delay_seconds": 3}).delay == 3.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a?b=1#frag", "http://example.com/a?b=1"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("mailto:someone@example.com", None),
        ("javascript:alert(1)", None),
        ("https://user:pw@example.com/", None),
        ("http://[::1]:8000/p", "http://[::1]:8000/p"),
        ("http://example.com:99999/", None),
    ],
)
def test_normalize_url(raw, expected):
    assert normalize_url(raw) == expected


def test_scope():
    scope = Scope("https://www.example.com/", CrawlOptions(max_pages=5, max_depth=1, exclude=("/blog/",)))
    assert scope.refusal("https://example.com/docs") is None  # www. or not: the same site
    assert scope.refusal("https://docs.example.com/") == "off_site"
    assert scope.refusal("https://example.com/blog/post") == "excluded"
    assert scope.refusal("https://example.com/logo.PNG") == "unsupported"
    only_docs = Scope("https://example.com/", CrawlOptions(max_pages=5, max_depth=1, include=("/docs/",)))
    assert only_docs.refusal("https://example.com/about") == "excluded"
    assert only_docs.refusal("https://example.com/docs/a") is None


def test_page_links_title_base_and_robots_meta():
    html = (
        '<html><head><title> The  Guide </title><base href="https://cdn.example.com/v2/">'
        '<meta name="robots" content="noindex, follow"></head><body>'
        '<a href="intro">Intro</a><a href="/abs">Abs</a><a href="intro#part">again</a>'
        '<a href="https://other.example/" rel="nofollow">x</a><a href="mailto:a@b.c">m</a></body></html>'
    )
    links = page_links(html, "https://example.com/start")
    assert links.links == ["https://cdn.example.com/v2/intro", "https://cdn.example.com/abs"]
    assert links.title == "The Guide" and links.noindex and not links.nofollow
    assert page_links('<meta name="MiniRAG" content="nofollow">', "https://e.x/").nofollow


def test_sitemaps_plain_gzip_index_and_text():
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc> https://e.x/a?x=1&amp;y=2 </loc></url><url><loc><![CDATA[https://e.x/b]]></loc></url></urlset>"
    )
    parsed = parse_sitemap(urlset, "https://e.x/sitemap.xml")
    assert not parsed.is_index and parsed.locations == ["https://e.x/a?x=1&y=2", "https://e.x/b"]
    assert parse_sitemap(gzip.compress(urlset), "https://e.x/s.xml.gz").locations == parsed.locations
    index = b"<sitemapindex><sitemap><loc>https://e.x/s1.xml</loc></sitemap></sitemapindex>"
    assert parse_sitemap(index, "https://e.x/").is_index
    assert parse_sitemap(b"https://e.x/one\nhttps://e.x/two\n", "https://e.x/").locations == [
        "https://e.x/one",
        "https://e.x/two",
    ]


def test_a_gzip_bomb_sitemap_is_refused(settings):
    settings.URL_FETCH_MAX_BYTES = 10_000
    with pytest.raises(ValueError, match="unpacks to more than"):
        parse_sitemap(gzip.compress(b"<urlset>" + b" " * 1_000_000), "https://e.x/s.xml.gz")


def test_robots_answers():
    robots = robots_from_body(b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2\nSitemap: https://e.x/sm.xml\n")
    assert robots.allows("https://e.x/docs") and not robots.allows("https://e.x/private/a")
    assert robots.crawl_delay() == 2 and robots.sitemaps() == ["https://e.x/sm.xml"]
    assert robots_from_status(404, "e.x").allows("https://e.x/anything")  # no robots.txt: no rules
    assert not robots_from_status(500, "e.x").allows("https://e.x/")  # unreachable: nothing (RFC 9309)
    assert not robots_from_status(503, "e.x").allows("https://e.x/") and "503" in robots_from_status(503, "e.x").refusal


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_politeness_waits_per_host_from_the_end_of_the_last_request():
    clock = FakeClock()
    polite = Politeness(1.0, deadline=1_000, clock=clock, sleep=clock.sleep)
    polite.before("https://a.example/1")
    clock.now += 0.3  # a's request takes 0.3 s
    polite.before("https://b.example/1")  # another host: no wait
    clock.now += 0.3  # b's request takes 0.3 s
    polite.before("https://a.example/2")  # 1 s after a's request ended: 0.7 s more
    polite.slow_down("a.example", 5.0)  # robots.txt asked for more
    polite.before("https://a.example/3")
    assert clock.slept == [0.7, 5.0]

    short = Politeness(10.0, deadline=clock.now + 1, clock=clock, sleep=clock.sleep)
    short.before("https://a.example/")
    short.finished()
    with pytest.raises(TimeoutError):
        short.before("https://a.example/again")  # the wait would pass the crawl's deadline
