"""Fetching URL sources: httpx with timeouts, a size cap, a redirect limit, and the SSRF guard on every hop
(the connection goes to the address that was checked)."""

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from django.conf import settings

from minirag.netguard import UnsafeURLError, resolve_and_check
from sources.pipeline.extract import ExtractionError

USER_AGENT = "MiniRAG/1.0 (+knowledge ingestion)"


class FetchRefused(ExtractionError):
    """The SSRF guard refused an address (the first one or a redirect's)."""


class HTTPStatusError(ExtractionError):
    """The server answered 4xx or 5xx; the crawler tells a page that is gone (404, 410) from a passing failure."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


@dataclass
class Fetched:
    body: bytes
    content_type: str
    final_url: str


def _pinned(url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Check `url` with the SSRF guard and aim the request at the address that was checked (not a second DNS
    answer, which could have been rebound to a private one): (target URL, headers, httpx extensions)."""
    try:
        addresses = resolve_and_check(url)
    except UnsafeURLError as error:
        raise FetchRefused(f"Refused to fetch {url}: {error}") from None
    parts = urlsplit(url)
    address = ipaddress.ip_address(addresses[0])
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return target, {"Host": parts.netloc}, {"sni_hostname": parts.hostname or ""}


def fetch_url(url: str, *, before_hop: Callable[[str], None] | None = None) -> Fetched:
    """GET `url`, following at most URL_FETCH_MAX_REDIRECTS redirects by hand so each target is re-checked.

    `before_hop(url)` runs before every request, redirects included: the site crawler waits there for its
    per-host rate and refuses a redirect off its site or into a path robots.txt disallows (by raising)."""
    limit = settings.URL_FETCH_MAX_BYTES
    timeout = httpx.Timeout(settings.URL_FETCH_TIMEOUT_SECONDS)
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      headers={"User-Agent": USER_AGENT}) as client:  # fmt: skip
        for _hop in range(settings.URL_FETCH_MAX_REDIRECTS + 1):
            if before_hop is not None:
                before_hop(current)
            target, headers, extensions = _pinned(current)
            try:
                with client.stream("GET", target, headers=headers, extensions=extensions) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise ExtractionError(f"{current} answered a redirect without a location")
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        message = f"The page answered HTTP {response.status_code} ({current})"
                        raise HTTPStatusError(message, response.status_code)
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise ExtractionError(f"The page is larger than the limit of {limit:,} bytes")
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body.extend(piece)
                        if len(body) > limit:
                            raise ExtractionError(f"The page is larger than the limit of {limit:,} bytes")
                    return Fetched(bytes(body), response.headers.get("content-type", ""), current)
            except httpx.TimeoutException:
                raise ExtractionError(
                    f"Timed out after {settings.URL_FETCH_TIMEOUT_SECONDS:g} s fetching {current}"
                ) from None
            except httpx.HTTPError as error:
                raise ExtractionError(f"Could not fetch {current} ({type(error).__name__})") from None
    raise ExtractionError(f"Too many redirects (more than {settings.URL_FETCH_MAX_REDIRECTS}) fetching {url}")
