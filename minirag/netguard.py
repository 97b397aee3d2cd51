"""SSRF guard for every outbound URL the tenant controls: URL sources, webhooks, provider `api_base` (LLM and
embeddings).

The rules, one function for every path (`_address_problem`):
- Private and loopback ranges (IPv4 private, 127/8, IPv6 ULA fc00::/7, the deprecated site-local fec0::/10,
  ::1) and other non-public ranges (e.g. CGNAT 100.64/10) are refused unless MINIRAG_ALLOW_PRIVATE_NETWORK=true.
- Link-local (cloud metadata such as 169.254.169.254), multicast, reserved and unspecified addresses are
  refused always.
- IPv6 transition addresses that carry an IPv4 address are judged by that IPv4 address: IPv4-mapped
  ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16 and Teredo 2001::/32 (its server and its client). So
  2002:a9fe:a9fe:: (6to4 of 169.254.169.254) is refused always, 64:ff9b::7f00:1 (NAT64 of 127.0.0.1) unless
  private networks are allowed, and 64:ff9b::5db8:d822 (a public IPv4 through DNS64) is allowed.
- Transition ranges whose IPv4 cannot be read reliably are refused always: the local-use NAT64 prefix
  64:ff9b:1::/48 (its operator picks the prefix length) and the deprecated IPv4-compatible ::/96.

Check the URL when it is stored and again right before connecting (and after each redirect), because DNS
can change in between, and connect to the address that was checked: URL sources and webhooks put the checked
address in the request URL (keeping Host and TLS SNI); LiteLLM's HTTP clients use `guarded_transport()`,
whose connections resolve through these rules and go to the very address checked, inside `outbound_guard()`.
"""

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
PRIVATE_PROBLEM = "private and loopback addresses are not allowed (set MINIRAG_ALLOW_PRIVATE_NETWORK=true to permit)"


class UnsafeURLError(ValueError):
    """The URL is malformed, not http(s), or resolves to an address we refuse to contact."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses a transition address carries; None for an ordinary IPv6 address."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # (server, client): packets reach both
    return None


def _address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
            return "IPv6 transition addresses whose IPv4 address cannot be checked are never allowed"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            for inner in embedded:
                problem = _address_problem(inner, allow_private=allow_private)
                if problem:
                    return f"{problem} ({address} carries the IPv4 address {inner})"
            return None
        if address.is_site_local and not allow_private:  # fec0::/10, deprecated, still routed as private
            return PRIVATE_PROBLEM
    if address.is_link_local:
        return "link-local addresses (such as cloud metadata endpoints) are never allowed"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "multicast, reserved and unspecified addresses are never allowed"
    if (address.is_loopback or address.is_private) and not allow_private:
        return PRIVATE_PROBLEM
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


def resolve_host(host: str, port: int, *, allow_private: bool | None = None) -> list[str]:
    """Resolve `host` once and refuse it when any of its addresses is unsafe. Returns the checked addresses."""
    allow_private = settings.MINIRAG_ALLOW_PRIVATE_NETWORK if allow_private is None else allow_private
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
    return list(dict.fromkeys(str(address) for address in addresses))


def resolve_and_check(url: str, *, allow_private: bool | None = None) -> list[str]:
    """Resolve the URL's host and refuse it when any address is unsafe. Returns the checked addresses."""
    host, port = validate_url_syntax(url)
    return resolve_host(host, port, allow_private=allow_private)


def check_url(url: str) -> None:
    """Raise UnsafeURLError when `url` must not be contacted."""
    resolve_and_check(url)


# --- connections that go where the guard looked ---------------------------------------------------------------


@dataclass
class OutboundGuard:
    """The guard of one outbound call; `refused` says why a connection was refused, if one was."""

    allow_private: bool
    refused: str | None = None


_active: ContextVar[OutboundGuard | None] = ContextVar("minirag_outbound_guard", default=None)


@contextmanager
def outbound_guard() -> Iterator[OutboundGuard]:
    """Within the block (this thread or task), every connection opened through `guarded_transport()` — the
    first one and those of redirects — resolves its host once through the rules above and goes to an
    address that passed them. Outside it, the transport connects like httpx's own."""
    guard = OutboundGuard(allow_private=settings.MINIRAG_ALLOW_PRIVATE_NETWORK)
    token = _active.set(guard)
    try:
        yield guard
    finally:
        _active.reset(token)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket layer with the guard in front: the name is resolved here, the checked address is
    what the socket connects to, and TLS still verifies and names the original host (httpcore passes the
    host, not our address, to the TLS handshake)."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        guard = _active.get()
        if guard is None:
            return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = resolve_host(host, port, allow_private=guard.allow_private)
        except UnsafeURLError as error:
            guard.refused = str(error)
            raise httpcore.ConnectError(str(error)) from None
        failure: httpcore.ConnectError | None = None
        for address in addresses:  # every one of them passed the rules
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                failure = error
        raise failure or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        guard = _active.get()
        if guard is not None:
            guard.refused = "Unix sockets are not allowed"
            raise httpcore.ConnectError(guard.refused)
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(**kwargs) -> httpx.HTTPTransport:
    """An httpx transport whose connections obey `outbound_guard()` when one is active (kwargs: httpx's)."""
    transport = httpx.HTTPTransport(**kwargs)
    # httpx has no public hook for the socket layer; its httpcore pool has one (pinned by the tests).
    pool = transport._pool
    pool._network_backend = _GuardedBackend(pool._network_backend)
    return transport
