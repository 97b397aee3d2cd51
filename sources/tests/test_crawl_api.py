"""Crawling through the API (`config.crawl` on a URL source), the scheduler and `manage.py ingest --crawl`.

The crawl itself (limits, robots, rate, SSRF, refresh) is tested in test_crawl.py against the same local site."""

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources.models import IngestStage, Source, SourceStatus, SourceType
from sources.refresh import due_sources
from sources.tests.factories import SourceFactory
from sources.tests.test_crawl import SITE_PAGES, LocalSite, build_docs_site

DEFAULTS = {"max_pages": 100, "max_depth": 2, "same_site": True, "sitemap": False, "include": [], "exclude": []}


@pytest.fixture
def bot(tenant_a):
    with tenant_context(tenant_a.tenant):
        return BotProfile.objects.create(name="Docs bot")


@pytest.fixture
def client(tenant_a):
    return tenant_a.client()


@pytest.fixture
def site():
    server = LocalSite()
    build_docs_site(server, "http://127.0.0.2:9")
    yield server
    server.stop()


@pytest.fixture
def quick_crawls(settings, monkeypatch):
    from sources.pipeline import crawl_site

    monkeypatch.setattr(crawl_site, "MIN_DELAY_SECONDS", 0.01)
    settings.CRAWL_DELAY_SECONDS = 0.01
    settings.EXTRACTION_TIMEOUT_SECONDS = 0
    settings.EXTRACTION_MAX_MEMORY_MB = 0
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True


def _create(client, bot, config, **extra):
    body = {"bot_profile_id": str(bot.pk), "name": "Help centre", "source_type": "url", "config": config}
    return client.post("/v1/sources", {**body, **extra}, format="json")


@pytest.mark.django_db
def test_create_stores_the_options_with_their_defaults_and_does_not_crawl(client, bot):
    with mock.patch("sources.tasks.crawl_source.apply_async") as queued:
        response = _create(client, bot, {"url": "https://help.example.com/", "crawl": {"max_pages": 20}})
        shorthand = _create(client, bot, {"url": "https://help.example.com/a", "crawl": True})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["config"] == {"url": "https://help.example.com/", "crawl": {**DEFAULTS, "max_pages": 20}}
    assert body["status"] == "pending" and body["crawl_report"] is None and body["children_count"] == 0
    assert shorthand.json()["config"]["crawl"] == DEFAULTS
    queued.assert_not_called()  # like any source: nothing happens before POST …/ingest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("crawl", "loc"),
    [
        ({"max_pages": 0}, "max_pages"),
        ({"max_pages": 1_000_000}, "max_pages"),
        ({"max_depth": -1}, "max_depth"),
        ({"max_depth": "2"}, "max_depth"),
        ({"maxpages": 5}, "maxpages"),
        ({"same_site": "no"}, "same_site"),
        ({"include": ["docs/"]}, "include"),
        ({"exclude": "x" * 10}, "exclude"),
        ({"sitemap": "ftp://example.com/sitemap.xml"}, "sitemap"),
        ({"sitemap": "http://169.254.169.254/sitemap.xml"}, "sitemap"),
        ({"delay_seconds": 3600}, "delay_seconds"),
        ("yes", None),
    ],
)
def test_invalid_crawl_options_are_422(client, bot, crawl, loc):
    response = _create(client, bot, {"url": "https://help.example.com/", "crawl": crawl})
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "config", "crawl", *([loc] if loc else [])]


@pytest.mark.django_db
def test_only_a_top_level_source_can_crawl(client, bot):
    parent = _create(client, bot, {"url": "https://help.example.com/"}).json()
    child = _create(client, bot, {"url": "https://help.example.com/x", "crawl": True}, parent_id=parent["id"])
    assert child.status_code == 422 and "top-level" in child.json()["detail"][0]["msg"]
    batch = client.post(
        "/v1/sources/batch",
        {"bot_profile_id": str(bot.pk), "name": "Site", "children": [
            {"name": "x", "source_type": "url", "config": {"url": "https://help.example.com/", "crawl": True}},
        ]},
        format="json",
    )  # fmt: skip
    assert batch.status_code == 422 and batch.json()["detail"][0]["loc"] == ["body", "children", 0, "config", "crawl"]


@pytest.mark.django_db
def test_reference_clients_are_unaffected(client, bot, django_capture_on_commit_callbacks):
    """No `crawl`, and a field this server does not know: a plain URL source, ingested like before."""
    response = _create(client, bot, {"url": "https://help.example.com/"}, future_field={"x": 1})
    assert response.status_code == 201 and response.json()["config"] == {"url": "https://help.example.com/"}
    with (
        mock.patch("sources.tasks.ingest_source.apply_async") as ingest,
        mock.patch("sources.tasks.crawl_source.apply_async") as crawl,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert client.post(f"/v1/sources/{response.json()['id']}/ingest").status_code == 202
    ingest.assert_called_once()
    crawl.assert_not_called()


@pytest.mark.django_db
def test_ingest_crawls_and_the_api_shows_the_pages(client, bot, site, quick_crawls, django_capture_on_commit_callbacks):
    created = _create(client, bot, {"url": f"{site.base}/", "crawl": {"max_depth": 2}})
    assert created.status_code == 201, created.content
    parent_id = created.json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(f"/v1/sources/{parent_id}/ingest")
    assert queued.status_code == 202

    parent = client.get(f"/v1/sources/{parent_id}").json()
    assert parent["status"] == "ready" and parent["children_count"] == len(SITE_PAGES)
    assert parent["crawl_report"]["pages"] == len(SITE_PAGES) and parent["crawl_report"]["stopped"] is None
    assert parent["chunk_count"] >= len(SITE_PAGES)
    pages = client.get(f"/v1/sources/{parent_id}/children", {"limit": 100}).json()
    assert len(pages) == len(SITE_PAGES)
    first = pages[0]  # oldest first: the start page
    assert first["config"]["url"] == f"{site.base}/" and first["name"] == "Help centre"
    assert first["source_type"] == "url" and first["status"] == "ready"


@pytest.mark.django_db
def test_a_running_crawl_shows_its_own_stage_and_progress(client, bot, tenant_a):
    with tenant_context(tenant_a.tenant):
        parent = SourceFactory(
            bot_profile=bot, source_type=SourceType.URL, content=None,
            config={"url": "https://help.example.com/", "crawl": DEFAULTS},
            status=SourceStatus.PROCESSING, stage=IngestStage.CRAWLING, progress=40,
        )  # fmt: skip
        SourceFactory(bot_profile=bot, parent=parent, status=SourceStatus.READY, chunk_count=3)
    body = client.get(f"/v1/sources/{parent.pk}").json()
    assert (body["status"], body["stage"], body["progress"]) == ("processing", "crawling", 40)
    assert body["children_count"] == 1 and body["chunk_count"] == 3
    listed = client.get("/v1/sources").json()
    assert [(row["stage"], row["progress"]) for row in listed if row["id"] == str(parent.pk)] == [("crawling", 40)]


@pytest.mark.django_db
def test_another_tenants_crawl_source_is_not_found(bot, tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        config = {"url": "https://a.example/", "crawl": DEFAULTS}
        parent = SourceFactory(bot_profile=bot, source_type=SourceType.URL, config=config)
    with mock.patch("sources.tasks.crawl_source.apply_async") as crawl:
        response = tenant_b.client().post(f"/v1/sources/{parent.pk}/ingest")
    assert response.status_code == 404 and response.json() == {"detail": "Source not found"}
    crawl.assert_not_called()


@pytest.mark.django_db
def test_patching_a_crawl_source_validates_its_options(client, bot, tenant_a):
    with tenant_context(tenant_a.tenant):
        config = {"url": "https://a.example/", "crawl": DEFAULTS}
        parent = SourceFactory(bot_profile=bot, source_type=SourceType.URL, config=config)
        SourceFactory(bot_profile=bot, parent=parent)
    url = f"/v1/sources/{parent.pk}"
    bad = client.patch(url, {"config": {"url": "https://a.example/", "crawl": {"max_pages": -5}}}, format="json")
    assert bad.status_code == 422
    good = client.patch(url, {"config": {"url": "https://a.example/", "crawl": {"max_depth": 1}}}, format="json")
    assert good.status_code == 200 and good.json()["config"]["crawl"] == {**DEFAULTS, "max_depth": 1}


@pytest.mark.django_db
def test_the_scheduler_recrawls_the_parent_never_its_pages(in_tenant):
    long_ago = timezone.now() - timedelta(days=30)
    parent = SourceFactory(
        source_type=SourceType.URL, config={"url": "https://a.example/", "crawl": DEFAULTS},
        refresh_schedule="weekly", last_refreshed_at=long_ago, status=SourceStatus.READY,
    )  # fmt: skip
    page = SourceFactory(bot_profile=parent.bot_profile, parent=parent, source_type=SourceType.URL,
                         config={"url": "https://a.example/x"}, last_refreshed_at=long_ago)  # fmt: skip
    batch = SourceFactory(refresh_schedule="weekly", last_refreshed_at=long_ago)
    batch_child = SourceFactory(bot_profile=batch.bot_profile, parent=batch, last_refreshed_at=long_ago)
    due = set(due_sources())
    assert parent in due and page not in due  # the crawl refreshes its pages
    assert batch not in due and batch_child in due  # a plain batch: its children, as before


@pytest.mark.django_db(transaction=True)
def test_manage_py_ingest_crawl_is_idempotent(tenant_rows_restored_at_session_end, tenant_a, site, quick_crawls):
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Crawl bot")
    try:
        args = ["--tenant", "tenant-a", "--bot", "Crawl bot", "--no-progress", "--crawl", f"{site.base}/"]
        out = io.StringIO()
        call_command("ingest", *args, "--max-pages", "5", "--max-depth", "1", stdout=out, stderr=io.StringIO())
        assert "kept 5 page(s) — new 5, changed 0, unchanged 0, retired 0" in out.getvalue()
        assert "Stopped by a limit: max_pages" in out.getvalue()
        again = io.StringIO()
        call_command("ingest", *args, "--max-pages", "5", "--max-depth", "1", stdout=again, stderr=io.StringIO())
        assert "new 0, changed 0, unchanged 5" in again.getvalue()
        with tenant_context(tenant_a.tenant):
            [parent] = Source.objects.filter(bot_profile=bot, parent=None)
            assert parent.external_id == f"crawl:{site.base}/" and parent.config["crawl"]["max_pages"] == 5
            assert Source.objects.filter(parent=parent, status=SourceStatus.READY).count() == 5
    finally:
        with tenant_context(tenant_a.tenant):
            BotProfile.objects.filter(pk=bot.pk).delete()
