"""The SSRF guard's rules (every outbound path uses them) and its transport, which connects where it looked."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from minirag.netguard import UnsafeURLError, guarded_transport, outbound_guard, resolve_and_check

LINK_LOCAL = "link-local addresses"
PRIVATE = "private and loopback addresses are not allowed"
UNCHECKABLE = "whose IPv4 address cannot be checked"


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("::ffff:169.254.169.254", "169.254.169.254"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64
        ("2002:a9fe:a9fe::1", "169.254.169.254"),  # 6to4
        ("2001:0:a9fe:a9fe::1", "169.254.169.254"),  # Teredo server
        ("2001:0:4136:e378:8000:63bf:5601:5601", "169.254.169.254"),  # Teredo client (stored inverted)
    ],
)
def test_transition_addresses_carrying_metadata_are_refused_always(address, embedded):
    for allow_private in (False, True):
        with pytest.raises(UnsafeURLError, match=LINK_LOCAL) as caught:
            resolve_and_check(f"http://[{address}]/", allow_private=allow_private)
        assert f"carries the IPv4 address {embedded}" in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "2001:0:7f00:1::a247:27dd",  # Teredo server 127.0.0.1 (client 93.184.216.34)
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo client 10.0.0.1
        "fec0::1",  # deprecated site-local
        "fc00::1",
    ],
)
def test_transition_and_site_local_addresses_carrying_private_networks_need_the_override(address):
    with pytest.raises(UnsafeURLError, match=PRIVATE):
        resolve_and_check(f"http://[{address}]/", allow_private=False)

    assert resolve_and_check(f"http://[{address}]/", allow_private=True)


@pytest.mark.parametrize("address", ["64:ff9b:1::7f00:1", "64:ff9b:1:5db8:d8:2200::", "::7f00:1", "::5db8:d822"])
def test_local_nat64_and_ipv4_compatible_addresses_are_refused_always(address):
    for allow_private in (False, True):
        with pytest.raises(UnsafeURLError, match=UNCHECKABLE):
            resolve_and_check(f"http://[{address}]/", allow_private=allow_private)


@pytest.mark.parametrize(
    "address", ["64:ff9b::5db8:d822", "2002:5db8:d822::1", "::ffff:93.184.216.34", "2606:4700:4700::1111"]
)
def test_public_addresses_pass_including_through_nat64_and_6to4(address):
    assert len(resolve_and_check(f"https://[{address}]/", allow_private=False)) == 1


def _resolver(monkeypatch, answers: dict[str, list[list[str]]]):
    """getaddrinfo for invented names: each call for a name gets the next answer (the last one repeats)."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        answer = answers[host][min(len([c for c in calls if c == host]), len(answers[host])) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answer]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_one_unsafe_address_among_the_answers_refuses_the_name(monkeypatch):
    _resolver(monkeypatch, {"mixed.test": [["93.184.216.34", "127.0.0.1"]]})

    with pytest.raises(UnsafeURLError, match=PRIVATE):
        resolve_and_check("http://mixed.test/", allow_private=False)


@pytest.fixture
def local_site():
    """A local HTTP server: `/` answers with the Host header it got; `/to-metadata` redirects to metadata."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_GET(self):
            if self.path == "/to-metadata":
                self.send_response(302)
                self.send_header("Location", "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = (self.headers.get("Host") or "").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_guarded_transport_connects_to_the_address_it_checked(local_site, monkeypatch, settings):
    # Given a name that answers a public address first and loopback afterwards (DNS rebinding)
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    calls = _resolver(monkeypatch, {"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    resolve_and_check(f"http://rebind.test:{local_site}/")  # the check at save time sees the public address

    # When a guarded client connects, the name is resolved again, checked, and loopback is refused
    with httpx.Client(transport=guarded_transport()) as client, outbound_guard() as guard:
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://rebind.test:{local_site}/")

    assert calls == ["rebind.test", "rebind.test"]
    assert guard.refused and PRIVATE in guard.refused


def test_guarded_transport_keeps_the_host_name_and_follows_the_rules_on_redirects(local_site, monkeypatch, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    _resolver(monkeypatch, {"site.test": [["127.0.0.1"]]})

    with httpx.Client(transport=guarded_transport(), follow_redirects=True) as client, outbound_guard() as guard:
        assert client.get(f"http://site.test:{local_site}/").text == f"site.test:{local_site}"
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://site.test:{local_site}/to-metadata")

    assert LINK_LOCAL in guard.refused


def test_outside_a_guard_the_transport_connects_like_httpx(local_site, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False  # operator-configured endpoints are not tenant URLs

    with httpx.Client(transport=guarded_transport()) as client:
        assert client.get(f"http://127.0.0.1:{local_site}/").status_code == 200
