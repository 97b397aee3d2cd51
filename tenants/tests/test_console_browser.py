"""The operator console in a real browser: headless Chromium renders the main pages from a live server."""

import importlib.util

import pytest
from django.test import Client

from minirag.tests.browser import Browser, chromium_path
from tenants.models import User

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("websockets") is None, reason="the websockets package is missing"),
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """The live server needs committed data, so these tests are transactional and end with a flush of the
    public tables. Put the session's tenants back afterwards: their schemas survive the flush, and a later
    run with --reuse-db must find the rows that go with them."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


def test_console_pages_render_in_headless_chromium(live_server, tenant_a):
    operator = User.objects.create_superuser(email="ops@browser.example", password="correct-horse-battery-staple")
    client = Client()
    client.force_login(operator, backend="tenants.backends.OperatorBackend")
    pages = {
        "/admin/": "Operator console",
        "/admin/tenants/tenant/": "Tokens 30 d",
        f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/": "Tokens, last 30 days",
        "/admin/sources/source/problems/": "Failed and stuck ingestions",
        f"/admin/sources/source/?tenant={tenant_a.tenant.slug}": "Failed & stuck ingestions (all tenants)",
    }

    with Browser(width=1280, height=800) as browser:
        browser.set_cookie(name="sessionid", value=client.cookies["sessionid"].value, url=live_server.url)
        for path, expected in pages.items():
            page = browser.capture(live_server.url + path)

            assert "/admin/login/" not in page.url, path
            assert expected in page.text, path
            assert page.png.startswith(PNG_MAGIC) and len(page.png) > 10_000


def test_without_a_session_chromium_lands_on_the_login_page(live_server):
    with Browser(width=1024, height=700) as browser:
        page = browser.capture(live_server.url + "/admin/sources/source/problems/")

    assert "/admin/login/" in page.url and "Failed and stuck" not in page.text
