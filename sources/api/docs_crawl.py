"""What `/v1/schema` says about crawling a site with a URL source (`config.crawl`; used by sources.api.docs)."""

from django.conf import settings

from sources.pipeline.crawl_site import MIN_DELAY_SECONDS

CRAWL_NOTE = f"""**Crawl a whole site.** Add `config.crawl` to a URL source — `true` for the defaults, or an object —
and `POST /v1/sources/{{id}}/ingest` crawls the site from `config.url` in the background: every page becomes a child
source of it (`GET /v1/sources/{{id}}/children`), ingested as soon as it is found. Options:
`max_pages` (default 100, at most {settings.CRAWL_MAX_PAGES}); `max_depth` (link hops from the start page, default 2,
at most {settings.CRAWL_MAX_DEPTH}); `same_site` (default `true`: only the start URL's host, with or without `www.`);
`sitemap` (`false`; `true`: the sitemaps robots.txt names, else `/sitemap.xml`; or a sitemap's URL — its pages are
crawled as start pages); `include` / `exclude` (path prefixes such as `"/docs/"`); `delay_seconds` (to go slower
than the server's pace, never faster). The crawler obeys robots.txt (user agent `MiniRAG`) and `noindex` /
`nofollow`, sends one request at a time, at least {max(MIN_DELAY_SECONDS, settings.CRAWL_DELAY_SECONDS):g} s apart
per host (longer if robots.txt asks), and checks every address and redirect like `config.url`. While it runs, the
source shows `stage: crawling` and `progress`; afterwards `crawl_report` says what was fetched, kept and skipped
(and why), and whether a limit stopped it (`stopped`). Ingesting it again — or its `refresh_schedule` — crawls
again: pages whose bytes did not change are not ingested again, changed pages are, new pages are added, and pages
that are gone (they answer 404 or 410, or a crawl that neither a limit nor a passing failure — 5xx, timeout — cut
short did not reach them any more) are retired — deactivated, their knowledge removed from answers — and listed
in `crawl_report.retired_urls`. A crawl that fails keeps every page."""

CRAWL_REQUEST = {
    "name": "Help centre",
    "source_type": "url",
    "config": {
        "url": "https://help.example.com/",
        "crawl": {"max_pages": 50, "max_depth": 2, "sitemap": True, "exclude": ["/blog/"]},
    },
    "refresh_schedule": "weekly",
}

CRAWL_CONFIG = {
    "url": "https://help.example.com/",
    "crawl": {
        "max_pages": 50,
        "max_depth": 2,
        "same_site": True,
        "sitemap": True,
        "include": [],
        "exclude": ["/blog/"],
    },
}

CRAWL_REPORT = {
    "finished_at": "2026-03-02T10:46:12.512301+00:00",
    "seconds": 61.4,
    "pages": 48,
    "new": 2,
    "changed": 1,
    "unchanged": 45,
    "retried": 0,
    "retired": 1,
    "retired_urls": ["https://help.example.com/old-pricing"],
    "pages_fetched": 50,
    "requests": 53,
    "bytes": 2381940,
    "skipped": {"duplicate": 1, "gone": 1, "off_site": 12, "robots": 3},
    "errors": [],
    "sitemaps": [{"url": "https://help.example.com/sitemap.xml", "urls": 41}],
    "stopped": "max_pages",
}
