"""What a site crawl needs besides fetching (sources/pipeline/crawl.py runs it): the crawl's options, URL
normalisation and the crawl's scope, the links and robots meta tags of a page, sitemaps, robots.txt, and the
per-host rate.

No database and no network here: the crawler fetches through sources.pipeline.fetch (SSRF guard on every hop,
size cap) and hands the bodies to these functions.
"""

import html
import re
import time
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from django.conf import settings

# Below this many seconds between two requests to one host, whatever the settings or a source say.
MIN_DELAY_SECONDS = 0.2
# robots.txt Crawl-delay is honoured up to this (a larger one would stall the crawl; the time limit stops it).
MAX_ROBOTS_DELAY_SECONDS = 30.0
ROBOTS_AGENT = "MiniRAG"
MAX_PREFIXES = 50
MAX_PREFIX_LENGTH = 500
MAX_LINKS_PER_PAGE = 5_000
# Link extraction reads at most this much of a page (the extractor reads it all, under its own limits).
MAX_LINK_SCAN_CHARS = 5_000_000
MAX_SITEMAP_URLS = 50_000  # the sitemap protocol's own limit per file
MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309: crawlers may ignore what follows the first 500 KiB
DEFAULT_PORTS = {"http": 80, "https": 443}
# Followed links with these endings are not fetched: they never hold text the pipeline can read.
SKIPPED_EXTENSIONS = frozenset(
    ".jpg .jpeg .png .gif .webp .svg .ico .bmp .tif .tiff .avif .css .js .mjs .map .woff .woff2 .ttf .otf .eot "
    ".mp3 .mp4 .m4a .m4v .mov .avi .wmv .webm .ogg .wav .flac .zip .gz .tgz .bz2 .xz .7z .rar .tar .exe .dmg "
    ".msi .deb .rpm .apk .iso .bin".split()
)
OPTION_KEYS = ("max_pages", "max_depth", "same_site", "sitemap", "include", "exclude", "delay_seconds")


class CrawlOptionsError(ValueError):
    """A bad `config.crawl`: `key` names the option (None: the object itself)."""

    def __init__(self, key: str | None, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class CrawlOptions:
    max_pages: int
    max_depth: int
    same_site: bool = True
    sitemap: bool | str = False  # True: the sitemaps robots.txt names, else /sitemap.xml; a URL: that one
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    delay_seconds: float | None = None  # slower than the operator's CRAWL_DELAY_SECONDS, never faster

    def as_config(self) -> dict[str, Any]:
        """The normalised options as stored in `config.crawl` (and echoed by the API)."""
        stored: dict[str, Any] = {
            "max_pages": self.max_pages, "max_depth": self.max_depth, "same_site": self.same_site,
            "sitemap": self.sitemap, "include": list(self.include), "exclude": list(self.exclude),
        }  # fmt: skip
        if self.delay_seconds is not None:
            stored["delay_seconds"] = self.delay_seconds
        return stored

    @property
    def delay(self) -> float:
        """Seconds between two requests to one host."""
        return max(MIN_DELAY_SECONDS, settings.CRAWL_DELAY_SECONDS, self.delay_seconds or 0.0)


def _integer(raw: dict, key: str, default: int, lowest: int, highest: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CrawlOptionsError(key, f"{key} must be a whole number")
    if not lowest <= value <= highest:
        raise CrawlOptionsError(key, f"{key} must be between {lowest} and {highest}")
    return value


def _prefixes(raw: dict, key: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_PREFIXES:
        raise CrawlOptionsError(key, f"{key} must be a list of at most {MAX_PREFIXES} path prefixes")
    for prefix in value:
        if not isinstance(prefix, str) or not prefix.startswith("/") or len(prefix) > MAX_PREFIX_LENGTH:
            raise CrawlOptionsError(key, f'{key} entries must be paths starting with / (e.g. "/docs/")')
    return tuple(dict.fromkeys(value))


def parse_crawl_options(raw: Any) -> CrawlOptions:
    """`config.crawl` (an object, or `true` for the defaults) → CrawlOptions; CrawlOptionsError when invalid.
    A sitemap URL is only checked for its shape here (the caller runs it through the SSRF guard)."""
    if raw is True:
        raw = {}
    if not isinstance(raw, dict):
        raise CrawlOptionsError(None, "config.crawl must be an object (or true for the defaults)")
    unknown = sorted(set(raw) - set(OPTION_KEYS))
    if unknown:
        raise CrawlOptionsError(unknown[0], f"unknown crawl option {unknown[0]!r}; known: {', '.join(OPTION_KEYS)}")
    cap = settings.CRAWL_MAX_PAGES
    same_site, sitemap, delay = raw.get("same_site", True), raw.get("sitemap", False), raw.get("delay_seconds")
    if not isinstance(same_site, bool):
        raise CrawlOptionsError("same_site", "same_site must be true or false")
    if sitemap is None:
        sitemap = False
    if isinstance(sitemap, str):
        sitemap = sitemap.strip()
        if urlsplit(sitemap).scheme not in ("http", "https"):
            raise CrawlOptionsError("sitemap", "sitemap must be true, false or an http(s) URL")
    elif not isinstance(sitemap, bool):
        raise CrawlOptionsError("sitemap", "sitemap must be true, false or an http(s) URL")
    if delay is not None:
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
            raise CrawlOptionsError("delay_seconds", "delay_seconds must be a number of seconds from 0 to 60")
        delay = float(delay)
    return CrawlOptions(
        max_pages=_integer(raw, "max_pages", min(100, cap), 1, cap),
        max_depth=_integer(raw, "max_depth", min(2, settings.CRAWL_MAX_DEPTH), 0, settings.CRAWL_MAX_DEPTH),
        same_site=same_site,
        sitemap=sitemap,
        include=_prefixes(raw, "include"),
        exclude=_prefixes(raw, "exclude"),
        delay_seconds=delay,
    )


# --- URLs and scope ----------------------------------------------------------------------------------------


def normalize_url(url: str, base: str | None = None) -> str | None:
    """An absolute http(s) URL in one spelling (lower-case scheme and host, no default port, no fragment,
    path "/" when empty); None for anything else (mailto:, javascript:, malformed, credentials)."""
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def site_of(url: str) -> str:
    """host[:port] without a leading "www.": what same_site compares."""
    netloc = urlsplit(url).netloc
    return netloc[4:] if netloc.startswith("www.") else netloc


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Scope:
    start_url: str
    options: CrawlOptions

    def refusal(self, url: str) -> str | None:
        """Why `url` is outside the crawl ("off_site", "excluded"), or None when it may be crawled."""
        if self.options.same_site and site_of(url) != site_of(self.start_url):
            return "off_site"
        path = urlsplit(url).path or "/"
        if self.options.include and not path.startswith(self.options.include):
            return "excluded"
        if self.options.exclude and path.startswith(self.options.exclude):
            return "excluded"
        if _extension(path) in SKIPPED_EXTENSIONS:
            return "unsupported"
        return None


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return name[name.rfind(".") :] if "." in name else ""


# --- pages: links, title, robots meta ----------------------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[str] = []
        self.title_parts: list[str] = []
        self.in_title = False
        self.robots: set[str] = set()

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if tag in ("a", "area") and values.get("href") and len(self.links) < MAX_LINKS_PER_PAGE:
            if "nofollow" not in values.get("rel", "").lower().split():
                self.links.append(values["href"])
        elif tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "title":
            self.in_title = True
        elif tag == "meta" and values.get("name", "").lower() in ("robots", ROBOTS_AGENT.lower()):
            self.robots.update(part.strip() for part in values.get("content", "").lower().split(","))

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title_parts.append(data)


@dataclass
class PageLinks:
    links: list[str] = field(default_factory=list)  # absolute, normalised, in page order, no duplicates
    title: str = ""
    noindex: bool = False  # <meta name="robots" content="noindex">: follow its links, do not keep the page
    nofollow: bool = False


def page_links(text: str, page_url: str) -> PageLinks:
    """The links, title and robots meta tags of an HTML page (relative links resolved against <base> or the
    page's URL)."""
    parser = _LinkParser()
    parser.feed(text[:MAX_LINK_SCAN_CHARS])
    parser.close()
    base = normalize_url(parser.base, page_url) if parser.base else page_url
    links = (normalize_url(href, base or page_url) for href in parser.links)
    robots = parser.robots
    return PageLinks(
        links=list(dict.fromkeys(link for link in links if link)),
        title=" ".join("".join(parser.title_parts).split())[:255],
        noindex="noindex" in robots or "none" in robots,
        nofollow="nofollow" in robots or "none" in robots,
    )


# --- sitemaps ----------------------------------------------------------------------------------------------

_LOC = re.compile(r"<(?:\w+:)?loc>\s*(?:<!\[CDATA\[)?\s*([^<\]]*?)\s*(?:\]\]>)?\s*</(?:\w+:)?loc>", re.IGNORECASE)
_INDEX = re.compile(r"<(?:\w+:)?sitemapindex[\s>]", re.IGNORECASE)


@dataclass
class Sitemap:
    is_index: bool  # a sitemap index lists further sitemaps; a urlset lists pages
    locations: list[str]


def parse_sitemap(body: bytes, url: str) -> Sitemap:
    """The <loc> entries of a sitemap (XML, optionally gzip-compressed) or of a plain-text sitemap (one URL per
    line). Read with a regular expression, not an XML parser: no entity expansion, no external entities."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body)
    text = body.decode("utf-8", errors="replace")
    if "<" not in text[:1000]:
        lines = (line.strip() for line in text.splitlines())
        found = [normalize_url(line) for line in lines if line.startswith(("http://", "https://"))]
        return Sitemap(False, [loc for loc in found if loc][:MAX_SITEMAP_URLS])
    locations = []
    for match in _LOC.finditer(text):
        loc = normalize_url(html.unescape(match.group(1)), url)
        if loc:
            locations.append(loc)
        if len(locations) >= MAX_SITEMAP_URLS:
            break
    return Sitemap(bool(_INDEX.search(text[:5000])), list(dict.fromkeys(locations)))


def _gunzip(body: bytes) -> bytes:
    """A gzip-compressed sitemap, unpacked to at most URL_FETCH_MAX_BYTES (a small bomb stays small)."""
    limit = settings.URL_FETCH_MAX_BYTES
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise ValueError("the sitemap is not valid gzip") from None
    if len(data) > limit:
        raise ValueError(f"the sitemap unpacks to more than {limit:,} bytes")
    return data


# --- robots.txt --------------------------------------------------------------------------------------------


@dataclass
class Robots:
    """One host's robots.txt rules (RFC 9309): allow or disallow everything, or the parsed file."""

    parser: RobotFileParser | None = None
    allow_all: bool = False
    refusal: str = ""  # why nothing may be fetched on this host ("" when the rules decide)
    reason: str = "robots"  # the refusal's kind in the crawl report: "robots", or "refused" by the SSRF guard

    def allows(self, url: str) -> bool:
        if self.refusal:
            return False
        if self.allow_all or self.parser is None:
            return True
        return self.parser.can_fetch(ROBOTS_AGENT, url)

    def crawl_delay(self) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(ROBOTS_AGENT)
        try:
            return min(float(delay or 0), MAX_ROBOTS_DELAY_SECONDS)
        except (TypeError, ValueError):
            return 0.0

    def sitemaps(self) -> list[str]:
        found = (self.parser.site_maps() or []) if self.parser is not None else []
        return [url for url in (normalize_url(entry) for entry in found) if url]


def robots_from_body(body: bytes) -> Robots:
    parser = RobotFileParser()
    parser.parse(body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace").splitlines())
    return Robots(parser=parser)


def robots_from_status(status_code: int, host: str) -> Robots:
    """RFC 9309 §2.3.1: a 4xx robots.txt means no rules (everything allowed), a 5xx that the host cannot be
    crawled now (everything disallowed)."""
    if 400 <= status_code < 500:
        return Robots(allow_all=True)
    return Robots(refusal=f"robots.txt of {host} answered HTTP {status_code}; nothing there is fetched (RFC 9309)")


# --- the per-host rate -------------------------------------------------------------------------------------


class Politeness:
    """At least `delay` seconds (more when a host's robots.txt asks) from the end of one request to a host to
    the start of the next. Requests run one at a time: `before(url)` marks the previous one finished, waits,
    and starts this one; `finished()` ends it."""

    def __init__(self, delay: float, *, deadline: float, clock=time.monotonic, sleep=time.sleep):
        self.delay, self.deadline = delay, deadline
        self._clock, self._sleep = clock, sleep
        self._ended_at: dict[str, float] = {}
        self._host_delay: dict[str, float] = {}
        self._current: str | None = None

    def slow_down(self, host: str, seconds: float) -> None:
        self._host_delay[host] = max(self.delay, seconds)

    def before(self, url: str) -> None:
        self.finished()
        host = urlsplit(url).netloc.lower()
        ended = self._ended_at.get(host)
        # Measured from the last request's end at the delay known now (robots.txt may have raised it since).
        wait = 0.0 if ended is None else ended + self._host_delay.get(host, self.delay) - self._clock()
        if wait > 0:
            if self._clock() + wait > self.deadline:
                raise TimeoutError("the crawl's time limit would pass while waiting for the host")
            self._sleep(wait)
        self._current = host

    def finished(self) -> None:
        if self._current is not None:
            host, self._current = self._current, None
            self._ended_at[host] = self._clock()
