"""The console's first page after login: its own links (tenants, failed & stuck ingestions) and every app's
links render as whole words and lead to pages that open."""

import importlib.util
import json

import lxml.html
import pytest
from django.test import Client

from minirag.tests.browser import Browser, chromium_path
from tenants.models import User

BACKEND = "tenants.backends.OperatorBackend"
CONSOLE_LINKS = [
    ("Tenants", "/admin/tenants/tenant/"),
    ("Failed & stuck ingestions", "/admin/sources/source/problems/"),
]


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """The browser test is transactional (the live server needs committed rows) and ends with a flush of the
    public tables; put the session's tenants back for the modules that follow (their schemas survive)."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


def _operator_client() -> Client:
    operator = User.objects.create_superuser(email="ops@index.example", password="correct-horse-battery-staple")
    client = Client()
    client.force_login(operator, backend=BACKEND)
    return client


@pytest.mark.django_db
def test_the_first_page_lists_the_console_links_and_each_opens(tenant_a):
    client = _operator_client()

    response = client.get("/admin/")

    assert response.status_code == 200
    page = lxml.html.fromstring(response.content)
    headers = page.xpath('//*[@id="console-links"]//th')
    assert [(th.xpath(".//a")[0].text_content(), th.xpath(".//a")[0].get("href")) for th in headers] == CONSOLE_LINKS
    assert "sources, chunks and tokens per tenant" in headers[0].text_content()
    # No description in a data cell: the dashboard stylesheet keeps those on one line and squeezes the links.
    assert all(len(td.text_content().strip()) <= len("View") for td in page.xpath('//*[@id="console-links"]//td'))
    app_links = page.xpath('//div[starts-with(@class, "app-")]//th//a/@href')
    assert "/admin/sources/source/" in app_links
    for href in [href for _, href in CONSOLE_LINKS] + app_links:
        assert client.get(href).status_code == 200, href


# A link box taller than this many lines means its text wrapped letter by letter (the bug this page had).
MAX_LINK_LINES = 1.5

LINK_BOXES = """JSON.stringify(Array.from(document.querySelectorAll('#content-main th a')).map(a => {
  const box = a.getBoundingClientRect();
  return [a.textContent.trim(), box.width, box.height, parseFloat(getComputedStyle(a).lineHeight) || 16];
}))"""
COLUMNS = """JSON.stringify([document.querySelector('#content-main .module').getBoundingClientRect().right,
  document.querySelector('#content-related').getBoundingClientRect().left])"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install -y chromium)")
@pytest.mark.skipif(importlib.util.find_spec("websockets") is None, reason="the websockets package is missing")
def test_in_chromium_every_link_of_the_first_page_is_one_line_beside_the_sidebar(live_server):
    client = _operator_client()
    with Browser(width=1280, height=800) as browser:
        browser.set_cookie(name="sessionid", value=client.cookies["sessionid"].value, url=live_server.url)
        page = browser.capture(live_server.url + "/admin/")
        links = json.loads(browser.evaluate(LINK_BOXES))
        main_right, sidebar_left = json.loads(browser.evaluate(COLUMNS))

    assert "/admin/login/" not in page.url
    titles = [title for title, *_ in links]
    assert {"Tenants", "Failed & stuck ingestions", "Sources"} <= set(titles)
    for title, width, height, line_height in links:
        assert height <= MAX_LINK_LINES * line_height, f"{title!r} wraps: {width:.0f}×{height:.0f}px"
    assert main_right <= sidebar_left  # the console table stays in its column
