"""SSRF guard for every outbound URL the tenant controls: URL sources, webhooks, provider `api_base`.

Private and loopback ranges are refused unless MINIRAG_ALLOW_PRIVATE_NETWORK=true; link-local (cloud
metadata such as 169.254.169.254), multicast, reserved and unspecified addresses are refused always.
Check the URL when it is stored and again right before connecting (and after each redirect), because DNS
can change in between.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURLError(ValueError):
    """The URL is malformed, not http(s), or resolves to an address we refuse to contact."""


def _address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return "link-local addresses (such as cloud metadata endpoints) are never allowed"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "multicast, reserved and unspecified addresses are never allowed"
    if (address.is_loopback or address.is_private) and not allow_private:
        return "private and loopback addresses are not allowed (set MINIRAG_ALLOW_PRIVATE_NETWORK=true to permit)"
    if not address.is_global and not allow_private and not address.is_private and not address.is_loopback:
        return "non-public addresses are not allowed"
    return None


def validate_url_syntax(url: str) -> tuple[str, int]:
    """Check scheme and host; return (host, port). No DNS lookup."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURLError("URL is malformed") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeURLError("URL has no host")
    if parts.username or parts.password:
        raise UnsafeURLError("URLs with embedded credentials are not allowed")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve_and_check(url: str, *, allow_private: bool | None = None) -> list[str]:
    """Resolve the URL's host and refuse it when any address is unsafe. Returns the checked addresses."""
    allow_private = settings.MINIRAG_ALLOW_PRIVATE_NETWORK if allow_private is None else allow_private
    host, port = validate_url_syntax(url)
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise UnsafeURLError(f"Host {host!r} could not be resolved") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeURLError(f"Host {host!r} could not be resolved")
    for address in addresses:
        problem = _address_problem(address, allow_private=allow_private)
        if problem:
            raise UnsafeURLError(f"Refused to contact {host}: {problem}")
    return [str(address) for address in addresses]


def check_url(url: str) -> None:
    """Raise UnsafeURLError when `url` must not be contacted."""
    resolve_and_check(url)
