"""widget.js as served (versions, caching, ETag) and its source rules; the hosted chat page /c/<key id> (404s, CSP).

The widget in a real browser: test_widget_browser.py.
"""

import gzip
import re
import shutil
import subprocess
import uuid

import pytest
from django.test import Client

from chat.tests.factories import BotFactory
from chat.widget.assets import WIDGET_PATH, widget_asset
from minirag.tenancy import tenant_context
from tenants.models import PublishableKey, Tenant
from tenants.publishable_keys import publishable_key_create, publishable_key_update

pytestmark = pytest.mark.django_db

WIDGET_SOURCE = WIDGET_PATH.read_text()


def _key(tenant_handle, bot, *, origins=("https://shop.example",), active=True) -> PublishableKey:
    issued = publishable_key_create(
        tenant=tenant_handle.tenant,
        created_by=tenant_handle.owner,
        bot_profile_id=bot.id,
        name="Shop",
        allowed_origins=list(origins),
    )
    if not active:
        publishable_key_update(key=issued.key, changes={"is_active": False})
    return issued.key


def _bot(tenant_handle, **fields):
    with tenant_context(tenant_handle.tenant):
        return BotFactory(**fields)


# --- /widget.js ------------------------------------------------------------------------------------------------


def test_widget_js_is_served_with_a_short_cache_an_etag_and_its_version():
    response = Client().get("/widget.js")

    asset = widget_asset()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.content == WIDGET_PATH.read_bytes() == asset.body
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["ETag"] == asset.etag and response["X-Widget-Version"] == asset.version
    assert re.fullmatch(r"[0-9a-f]{12}", asset.version)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_unchanged_widget_answers_304_to_its_etag():
    etag = widget_asset().etag

    unchanged = Client().get("/widget.js", HTTP_IF_NONE_MATCH=f'W/"other", {etag}')
    changed = Client().get("/widget.js", HTTP_IF_NONE_MATCH='"something-else"')

    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == etag and unchanged["Cache-Control"] == "public, max-age=300"
    assert changed.status_code == 200 and changed.content == widget_asset().body


@pytest.mark.parametrize("url", ["/widget.{v}.js", "/widget.js?v={v}"])
def test_the_current_version_is_cacheable_for_a_year(url):
    version = widget_asset().version

    response = Client().get(url.format(v=version))

    assert response.status_code == 200 and response.content == widget_asset().body
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("url", ["/widget.0123456789ab.js", "/widget.js?v=0123456789ab", "/widget.js?v="])
def test_another_version_gets_the_current_file_but_only_briefly_cached(url):
    # A page pinned to an old release keeps working after an upgrade, and never caches the new file for a year.
    response = Client().get(url)

    assert response.status_code == 200 and response.content == widget_asset().body
    assert response["Cache-Control"] == "public, max-age=300"


def test_the_version_changes_with_the_file(tmp_path, monkeypatch):
    from chat.widget import assets

    copy = tmp_path / "widget.js"
    copy.write_bytes(WIDGET_PATH.read_bytes())
    monkeypatch.setattr(assets, "WIDGET_PATH", copy)
    before = assets.widget_asset()

    copy.write_bytes(WIDGET_PATH.read_bytes() + b"\n// release 2\n")
    after = assets.widget_asset()

    assert before.version != after.version and before.etag != after.etag
    assert after.body.endswith(b"// release 2\n")


def test_widget_js_refuses_writes():
    assert Client().post("/widget.js").status_code == 405


# --- the widget's source ---------------------------------------------------------------------------------------

HTML_SINKS = [
    r"\.innerHTML\b",
    r"\.outerHTML\b",
    r"insertAdjacentHTML",
    r"document\.write",
    r"createContextualFragment",
    r"DOMParser",
    r"\beval\s*\(",
    r"new\s+Function\b",
    r"srcdoc",
    r"setAttribute\(\s*[\"']on",
]


def test_the_widget_source_has_no_html_sinks():
    # An extra guard next to the browser test (which injects markup and checks nothing was created): the widget
    # must never parse text as HTML, so none of the APIs that do may appear in it at all.
    found = [pattern for pattern in HTML_SINKS if re.search(pattern, WIDGET_SOURCE)]

    assert found == []


def test_the_widget_loads_nothing_from_elsewhere_and_stays_small():
    urls = set(re.findall(r"https?://[^\s\"'`)]+", WIDGET_SOURCE))

    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace, not a download
    assert not re.search(r"createElement\(\s*[\"']script|\bimport\s*\(|importScripts|new\s+Worker", WIDGET_SOURCE)
    assert len(WIDGET_PATH.read_bytes()) < 25 * 1024


def test_widget_js_is_compressed_for_clients_that_accept_gzip():
    etag = widget_asset().etag

    response = Client().get("/widget.js", HTTP_ACCEPT_ENCODING="gzip, br")
    again = Client().get("/widget.js", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=response["ETag"])

    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content) == widget_asset().body
    assert len(response.content) < 10 * 1024
    assert response["ETag"] in (etag, f"W/{etag}")
    assert again.status_code == 304


def test_links_in_answers_are_limited_to_http_and_open_without_opener():
    safe_url = re.search(r"function safeUrl\(href\) \{.*?\n  \}", WIDGET_SOURCE, re.S).group(0)

    assert 'url.protocol === "http:" || url.protocol === "https:"' in safe_url
    assert 'rel: "noopener noreferrer"' in WIDGET_SOURCE


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_widget_is_valid_javascript():
    node = shutil.which("node")
    result = subprocess.run([node, "--check", str(WIDGET_PATH)], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0, result.stderr


# --- the hosted chat page --------------------------------------------------------------------------------------


def _inline_scripts(html: str) -> list[str]:
    return [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]


def test_the_hosted_page_boots_the_widget_in_page_mode_with_a_strict_csp(tenant_a):
    bot = _bot(tenant_a, name="Help desk")
    key = _key(tenant_a, bot, origins=["https://shop.example", "http://127.0.0.1:8123"])

    response = Client().get(f"/c/{key.id}")

    html = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "<title>Help desk · Chat</title>" in html
    assert f'<minirag-chat mode="page" key-from-hash bot-id="{bot.id}" title="Help desk">' in html
    assert f'<script src="/widget.{widget_asset().version}.js" async></script>' in html
    assert _inline_scripts(html) == [] and "<style" not in html and " style=" not in html
    assert "pk_" not in html  # the key stays in the fragment
    csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert csp == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "connect-src": "'self'",
        "img-src": "'self' data:",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "https://shop.example http://127.0.0.1:8123",
    }
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in response  # the key's own sites may frame it (frame-ancestors)


def test_a_key_without_origins_makes_a_page_no_site_may_frame(tenant_a):
    key = _key(tenant_a, _bot(tenant_a), origins=[])

    response = Client().get(f"/c/{key.id}")

    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_only_well_formed_origins_reach_the_csp_header(tenant_a):
    # Origins are normalised when a key is saved; a row written some other way still cannot inject directives.
    key = _key(tenant_a, _bot(tenant_a), origins=["https://ok.example"])
    PublishableKey.objects.filter(pk=key.pk).update(
        allowed_origins=["https://ok.example", "https://x.example; script-src *", "*"]
    )

    csp = Client().get(f"/c/{key.id}")["Content-Security-Policy"]

    assert csp.endswith("frame-ancestors https://ok.example") and "script-src *" not in csp


def test_the_bot_name_is_escaped_in_the_hosted_page(tenant_a):
    key = _key(tenant_a, _bot(tenant_a, name='Evil"><script>alert(1)</script>'))

    html = Client().get(f"/c/{key.id}").content.decode()

    assert "<script>alert(1)" not in html and _inline_scripts(html) == []
    assert 'title="Evil&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def _assert_missing(response):
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Chat not found" in response.content.decode()
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("key_id", [str(uuid.uuid4()), "not-a-uuid", "0" * 40])
def test_an_unknown_or_malformed_key_id_is_a_404(key_id):
    _assert_missing(Client().get(f"/c/{key_id}"))


def test_a_revoked_key_is_a_404(tenant_a):
    key = _key(tenant_a, _bot(tenant_a), active=False)

    _assert_missing(Client().get(f"/c/{key.id}"))


def test_a_key_whose_bot_is_inactive_or_gone_is_a_404(tenant_a):
    inactive = _key(tenant_a, _bot(tenant_a, is_active=False))
    gone = _key(tenant_a, _bot(tenant_a))
    with tenant_context(tenant_a.tenant):
        type(_bot(tenant_a)).objects.filter(pk=gone.bot_profile_id).delete()

    _assert_missing(Client().get(f"/c/{inactive.id}"))
    _assert_missing(Client().get(f"/c/{gone.id}"))


def test_a_key_of_a_deactivated_tenant_is_a_404(tenant_a):
    key = _key(tenant_a, _bot(tenant_a))
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(is_active=False)

    _assert_missing(Client().get(f"/c/{key.id}"))


def test_a_key_whose_creator_left_is_a_404(tenant_a):
    key = _key(tenant_a, _bot(tenant_a))
    type(tenant_a.owner).objects.filter(pk=tenant_a.owner.pk).update(is_active=False)

    _assert_missing(Client().get(f"/c/{key.id}"))


def test_the_hosted_page_refuses_writes(tenant_a):
    key = _key(tenant_a, _bot(tenant_a))

    assert Client().post(f"/c/{key.id}").status_code == 405
