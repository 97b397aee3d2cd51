"""URL sources against a local HTTP server: content types, redirects, size cap, and the SSRF guard."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sources import services
from sources.models import SourceStatus, SourceType
from sources.pipeline.extract import ExtractionError
from sources.pipeline.fetch import fetch_url
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory

ARTICLE = (
    "<html><head><title>Moons</title><script>var tracking = 'nope';</script></head><body><nav>Menu</nav>"
    "<article><h1>Moons of Jupiter</h1>"
    + "<p>Europa hides a salty ocean beneath its icy crust, and Io is covered in active volcanoes.</p>" * 3
    + "</article></body></html>"
)
PAGES = {
    "/article": (200, "text/html; charset=utf-8", ARTICLE.encode()),
    "/notes.txt": (200, "text/plain", b"Ganymede is the largest moon in the solar system."),
    "/image.png": (200, "image/png", b"\x89PNG\r\n"),
    "/missing": (404, "text/plain", b"nope"),
    "/big": (200, "text/plain", b"x" * 5000),
}


@pytest.fixture(scope="module")
def site():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/redirect-to-metadata"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            if self.path.startswith("/loop"):
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
                return
            if self.path.startswith("/moved"):
                self.send_response(301)
                self.send_header("Location", "/article")
                self.end_headers()
                return
            status, content_type, body = PAGES.get(self.path, (404, "text/plain", b"?"))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_private(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True


def _url_source(run_on_commit, url, bot=None):
    kwargs = {"bot_profile": bot} if bot else {}
    source = SourceFactory(source_type=SourceType.URL, content=None, config={"url": url}, **kwargs)
    run_on_commit(services.source_ingest, source=source)
    source.refresh_from_db()
    return source


def test_html_page_is_fetched_extracted_and_searchable(in_tenant, site, allow_private, run_on_commit):
    source = _url_source(run_on_commit, f"{site}/moved")  # follows the redirect to /article
    assert source.status == SourceStatus.READY, source.error_message
    results = retrieve(bot=source.bot_profile, query="Europa salty ocean")
    assert results and "Europa" in results[0].content
    assert "tracking" not in results[0].content


def test_plain_text_page(in_tenant, site, allow_private, run_on_commit):
    source = _url_source(run_on_commit, f"{site}/notes.txt")
    assert source.status == SourceStatus.READY
    assert "Ganymede" in retrieve(bot=source.bot_profile, query="largest moon ganymede")[0].content


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "HTTP 404"),
        ("/image.png", "Unsupported content type 'image/png'"),
        ("/redirect-to-metadata", "link-local"),
        ("/loop", "Too many redirects"),
    ],
)
def test_fetch_failures_are_human_errors(in_tenant, site, allow_private, run_on_commit, path, message):
    source = _url_source(run_on_commit, f"{site}{path}")
    assert source.status == SourceStatus.ERROR
    assert message in source.error_message


def test_size_cap(site, allow_private, settings):
    settings.URL_FETCH_MAX_BYTES = 1000
    with pytest.raises(ExtractionError, match="larger than the limit"):
        fetch_url(f"{site}/big")


def test_loopback_is_refused_without_the_override(in_tenant, site, run_on_commit, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    source = _url_source(run_on_commit, f"{site}/article")
    assert source.status == SourceStatus.ERROR
    assert "private and loopback addresses are not allowed" in source.error_message


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:a9fe:a9fe::1]/",  # 6to4
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
        "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo client
        "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64: never
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_metadata_multicast_and_unspecified_are_refused_always(url, allow_private):
    with pytest.raises(ExtractionError, match="Refused"):
        fetch_url(url)


def test_connection_goes_to_the_checked_address(site, allow_private, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and the request is sent to that address."""
    from sources.pipeline import fetch

    port = site.rsplit(":", 1)[1]
    monkeypatch.setattr(fetch, "resolve_and_check", lambda url: ["127.0.0.1"])
    fetched = fetch_url(f"http://docs.rebind.invalid:{port}/notes.txt")  # unresolvable name, pinned address
    assert b"Ganymede" in fetched.body
    assert fetched.final_url == f"http://docs.rebind.invalid:{port}/notes.txt"
