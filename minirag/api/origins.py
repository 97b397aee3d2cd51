"""Web origins ("scheme://host[:port]") for publishable keys: normalising the ones a key allows, and checking a
request's `Origin` header against them.

A publishable key is public (it sits in a web page's HTML), so the `Origin` header a browser sends is what binds it
to the sites it was issued for. Browsers set `Origin` themselves on cross-origin `fetch` and on every POST, and a
page cannot forge it; a non-browser client can, which is why keys are also rate-limited and can only chat.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import DisallowedHost

MAX_ORIGIN_CHARS = 255
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidOrigin(ValueError):
    """Not a web origin; the message says why, for the API's 422."""


def normalise_origin(text: str) -> str:
    """ "HTTPS://Shop.Example:443" → "https://shop.example"; raises InvalidOrigin for anything but an origin.

    An origin is a scheme (http or https), a host and an optional port — no path, query, fragment or user info
    (a trailing "/" is tolerated). Hosts are lowercased and IDNA-encoded, default ports dropped, as browsers do.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidOrigin("An origin is required, e.g. https://shop.example")
    raw = text.strip()
    if len(raw) > MAX_ORIGIN_CHARS:
        raise InvalidOrigin(f"An origin is at most {MAX_ORIGIN_CHARS} characters")
    if raw.endswith("/") and raw.count("/") == 3:
        raw = raw[:-1]
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidOrigin(f"Not an origin: {text!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidOrigin(f"Not an origin: {text!r} (the scheme must be http or https)")
    if parts.path or parts.query or parts.fragment or "#" in raw or "?" in raw or "@" in parts.netloc:
        raise InvalidOrigin(f"Not an origin: {text!r} (only scheme://host[:port], no path)")
    host = _normalise_host(parts.hostname or "", text)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _normalise_host(hostname: str, text: str) -> str:
    if not hostname or "*" in hostname:
        raise InvalidOrigin(f"Not an origin: {text!r} (a host is required; wildcards are not allowed)")
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return f"[{address}]" if address.version == 6 else str(address)
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidOrigin(f"Not an origin: {text!r} (invalid host name)") from None
    if any(not label for label in host.rstrip(".").split(".")) or not all(
        char.isalnum() or char in "-." for char in host
    ):
        raise InvalidOrigin(f"Not an origin: {text!r} (invalid host name)")
    return host.rstrip(".")


def own_origin(request) -> str:
    """MiniRAG's own origin (where the hosted chat page lives): PUBLIC_BASE_URL's, else the request's own."""
    base = settings.PUBLIC_BASE_URL
    if base:
        return _base_origin(base)  # checked at start-up (check_public_base_url)
    return f"{request.scheme}://{request.get_host()}".lower()


def public_base_url(request) -> str:
    """Where MiniRAG's pages are, without a trailing "/": PUBLIC_BASE_URL (it may have a path), else the
    request's own scheme://host."""
    return settings.PUBLIC_BASE_URL.rstrip("/") or own_origin(request)


def _base_origin(base: str) -> str:
    parts = urlsplit(base)
    return normalise_origin(f"{parts.scheme}://{parts.netloc}")


def request_origin(request) -> str | None:
    """The request's `Origin` header, normalised; None when missing, "null" or not an origin."""
    header = request.META.get("HTTP_ORIGIN", "")
    if not header or header == "null":
        return None
    try:
        return normalise_origin(header)
    except InvalidOrigin:
        return None


def origin_allowed(request, allowed_origins) -> str | None:
    """The request's origin when it is one of `allowed_origins` or MiniRAG's own; None otherwise (refuse)."""
    origin = request_origin(request)
    if origin is None:
        return None
    if origin in allowed_origins:
        return origin
    try:
        if origin == own_origin(request):
            return origin
    except (InvalidOrigin, DisallowedHost):  # a misconfigured PUBLIC_BASE_URL, or a host Django refuses
        return None
    return None


def check_public_base_url(app_configs=None, **kwargs) -> list:
    """System check: PUBLIC_BASE_URL is empty or an http(s) URL without query or fragment (share links and the
    own-origin check use it)."""
    base = settings.PUBLIC_BASE_URL
    if not base:
        return []
    try:
        _base_origin(base)
    except (InvalidOrigin, ValueError) as error:
        return [Error(f"PUBLIC_BASE_URL: {error}", id="minirag.E110")]
    if urlsplit(base).query or urlsplit(base).fragment:
        return [Error("PUBLIC_BASE_URL: no query or fragment, e.g. https://minirag.example.com", id="minirag.E110")]
    return []
