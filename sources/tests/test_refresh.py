"""Scheduled refresh: which sources are due, unchanged content skipped, failing sources back off."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from bots.models import BotProfile
from sources import refresh
from sources.models import Chunk, RefreshState, Source, SourceStatus

pytestmark = pytest.mark.django_db


class Site:
    """A real web page on 127.0.0.1 whose body and status the test changes."""

    def __init__(self) -> None:
        self.body = "<html><body><h1>Handbook</h1><p>Refunds are possible within 30 days.</p></body></html>"
        self.status = 200
        self.hits = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits += 1
                payload = site.body.encode()
                self.send_response(site.status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/handbook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    settings.DEFAULT_EMBEDDING_MODEL = ""  # lexical index only: no provider needed
    running = Site()
    yield running
    running.close()


@pytest.fixture
def bot(in_tenant):
    return BotProfile.objects.create(name="Support")


def _source(bot, **fields) -> Source:
    defaults = {"name": "s", "source_type": "text", "content": "hello", "refresh_schedule": "hourly"}
    return Source.objects.create(bot_profile=bot, **{**defaults, **fields})


def _tick(capture, *, now=None) -> list[str]:
    with capture(execute=True):
        return refresh.refresh_tenant(now=now)


def test_due_selection_follows_schedule_status_and_activity(bot):
    now = timezone.now()
    due_never = _source(bot, name="never refreshed", last_refreshed_at=None)
    due_hourly = _source(bot, name="hourly, 61 min ago", last_refreshed_at=now - timedelta(minutes=61))
    due_weekly = _source(
        bot, name="weekly, 8 days", refresh_schedule="weekly", last_refreshed_at=now - timedelta(days=8)
    )
    due_error = _source(bot, name="error, old", status=SourceStatus.ERROR, last_refreshed_at=now - timedelta(hours=2))
    _source(bot, name="hourly, 30 min ago", last_refreshed_at=now - timedelta(minutes=30))
    _source(bot, name="daily, 23 h ago", refresh_schedule="daily", last_refreshed_at=now - timedelta(hours=23))
    _source(bot, name="weekly, 6 days", refresh_schedule="weekly", last_refreshed_at=now - timedelta(days=6))
    _source(bot, name="no schedule", refresh_schedule=None)
    _source(bot, name="schedule none", refresh_schedule="none")
    _source(bot, name="inactive", is_active=False)
    _source(bot, name="processing", status=SourceStatus.PROCESSING)

    due = {source.name for source in refresh.due_sources(now=now)}

    assert due == {due_never.name, due_hourly.name, due_weekly.name, due_error.name}
    assert refresh.due_sources(now=now).first() == due_never  # never refreshed goes first


def test_children_follow_their_parents_schedule_and_the_parent_is_not_refreshed_itself(bot):
    parent = _source(bot, name="site", source_type="url", refresh_schedule="daily")
    child = _source(bot, name="page", parent=parent, refresh_schedule=None)
    own = _source(bot, name="own", parent=parent, refresh_schedule="weekly", last_refreshed_at=timezone.now())

    due = set(refresh.due_sources())

    assert child in due and parent not in due and own not in due


def test_tick_refreshes_a_url_source_and_skips_unchanged_content(bot, site, django_capture_on_commit_callbacks):
    source = _source(bot, name="handbook", source_type="url", content=None, config={"url": site.url})

    assert _tick(django_capture_on_commit_callbacks) == [str(source.pk)]
    source.refresh_from_db()
    assert source.status == SourceStatus.READY and source.chunk_count >= 1
    first_document, first_chunks = source.current_document_id, set(Chunk.objects.values_list("id", flat=True))
    first_refresh = source.last_refreshed_at

    # Not due again within the hour.
    assert _tick(django_capture_on_commit_callbacks) == []
    # An hour later the page is fetched again; its content is unchanged, so nothing is re-chunked.
    later = timezone.now() + timedelta(minutes=61)
    assert _tick(django_capture_on_commit_callbacks, now=later) == [str(source.pk)]
    source.refresh_from_db()
    assert site.hits == 2
    assert source.current_document_id == first_document
    assert set(Chunk.objects.values_list("id", flat=True)) == first_chunks
    assert source.last_refreshed_at > first_refresh

    # The page changes: the next due refresh indexes the new version.
    site.body = "<html><body><p>Refunds are now possible within 60 days.</p></body></html>"
    Source.objects.filter(pk=source.pk).update(last_refreshed_at=timezone.now() - timedelta(hours=2))
    _tick(django_capture_on_commit_callbacks)
    source.refresh_from_db()
    assert source.current_document_id != first_document
    assert "60 days" in " ".join(Chunk.objects.filter(source=source).values_list("content", flat=True))


def test_a_failing_source_backs_off_instead_of_retrying_every_tick(bot, site, django_capture_on_commit_callbacks):
    site.status = 500
    source = _source(bot, name="flaky", source_type="url", content=None, config={"url": site.url})
    start = timezone.now()

    assert _tick(django_capture_on_commit_callbacks, now=start) == [str(source.pk)]
    source.refresh_from_db()
    state = RefreshState.objects.get(source_id=source.pk)
    assert source.status == SourceStatus.ERROR and state.consecutive_failures == 1
    assert timedelta(minutes=59) < state.next_attempt_at - start < timedelta(minutes=61)

    # The following ticks (every 15 minutes) leave it alone while it backs off.
    for minutes in (15, 30, 45):
        assert _tick(django_capture_on_commit_callbacks, now=start + timedelta(minutes=minutes)) == []
    assert site.hits == 1

    # After the back-off it is tried again; a second failure doubles the wait.
    assert _tick(django_capture_on_commit_callbacks, now=start + timedelta(minutes=62)) == [str(source.pk)]
    state.refresh_from_db()
    assert state.consecutive_failures == 2
    assert timedelta(minutes=119) < state.next_attempt_at - timezone.now() < timedelta(minutes=121)

    # Once the page works again, a success clears the back-off.
    site.status = 200
    assert _tick(django_capture_on_commit_callbacks, now=start + timedelta(hours=4)) == [str(source.pk)]
    source.refresh_from_db()
    assert source.status == SourceStatus.READY
    assert not RefreshState.objects.filter(source_id=source.pk).exists()


def test_backoff_grows_per_schedule_and_is_capped():
    assert refresh.backoff_after(1, "hourly") == timedelta(hours=1)
    assert refresh.backoff_after(3, "hourly") == timedelta(hours=4)
    assert refresh.backoff_after(2, "daily") == timedelta(days=2)
    assert refresh.backoff_after(5, "weekly") == refresh.MAX_BACKOFF


def test_beat_entry_and_fan_out_to_every_active_tenant(
    tenant_a, tenant_b, monkeypatch, settings, django_capture_on_commit_callbacks
):
    from minirag.celery import app
    from sources import tasks
    from tenants.services import tenant_set_active

    entry = app.conf.beat_schedule[refresh.BEAT_ENTRY]
    assert entry["task"] == "sources.refresh.refresh_due_sources"
    assert entry["schedule"] == float(settings.REFRESH_CHECK_INTERVAL_SECONDS)
    assert tasks.refresh_due_sources.name == entry["task"]
    assert tasks.refresh_tenant_sources.name == "sources.refresh.refresh_tenant_sources"  # queued messages' name
    schemas: list[str] = []
    queue = lambda **options: schemas.append(options["headers"]["_schema_name"])  # noqa: E731
    monkeypatch.setattr(tasks.refresh_tenant_sources, "apply_async", queue)
    tenant_set_active(tenant=tenant_b.tenant, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.refresh_due_sources()

    assert tenant_a.tenant.schema_name in schemas and tenant_b.tenant.schema_name not in schemas
