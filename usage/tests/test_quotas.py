"""Plan quotas: 403 for sizes (sources, chunks, upload bytes, bots), 429 for rates (tokens per month, chat
requests per day), usage in GET /v1/tenants/me, `usage.threshold` at 80 % and 100 % once per period, and a chat
turn that costs no extra query while the counters are cached."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.tests.factories import BotFactory
from minirag import counters, events
from minirag.tenancy import tenant_context
from sources.models import Source
from usage.models import QuotaNotice, UsageKind
from usage.services import quota_check_chunk_thresholds, usage_record

pytestmark = pytest.mark.django_db

UNLIMITED = {
    "tokens_per_month": None,
    "chat_requests_per_day": None,
    "sources": None,
    "chunks": None,
    "upload_bytes": None,
    "bots": None,
}


@pytest.fixture(autouse=True)
def _fresh_counters(fresh_counters):
    """Every test here starts with empty quota counters (root conftest)."""


@pytest.fixture
def plan(tenant_a, settings):
    """Put tenant A on a plan "tight" whose limits the test sets: plan(sources=2)."""

    def use(**limits):
        settings.PLANS = {**settings.PLANS, "tight": {**UNLIMITED, **limits}}
        tenant_a.tenant.plan = "tight"
        tenant_a.tenant.save(update_fields=["plan"])

    yield use
    tenant_a.tenant.plan = "free"  # the session's handle outlives this test's transaction


@pytest.fixture
def emitted():
    """usage.threshold events, as subscribers see them."""
    seen = []

    def collect(schema_name, event, payload):
        if event == events.USAGE_THRESHOLD:
            seen.append(payload)

    events.subscribe(collect)
    yield seen
    events._subscribers.remove(collect)


def _bot(handle):
    with tenant_context(handle.tenant):
        return BotFactory()


def _text_source(client, bot, name="s"):
    return client.post(
        "/v1/sources",
        {"bot_profile_id": str(bot.id), "name": name, "source_type": "text", "content": "Some text."},
        format="json",
    )


def _chat(client, bot):
    return client.post("/v1/chat", {"bot_profile_id": str(bot.id), "message": "hello?"}, format="json")


# --- size-like quotas: 403 -----------------------------------------------------------------------------------


def test_bots_over_quota_are_403_naming_the_quota(tenant_a, plan):
    plan(bots=1)
    client = tenant_a.client()

    assert client.post("/v1/bot-profiles", {"name": "one"}, format="json").status_code == 201
    refused = client.post("/v1/bot-profiles", {"name": "two"}, format="json")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "Quota exceeded: bots (limit 1 bots on plan 'tight'); 1 in use"}


def test_sources_over_quota_are_403_and_batches_count_every_child(tenant_a, plan):
    plan(sources=3)
    bot = _bot(tenant_a)
    client = tenant_a.client()

    assert _text_source(client, bot).status_code == 201
    batch = client.post(
        "/v1/sources/batch",
        {
            "bot_profile_id": str(bot.id),
            "name": "batch",
            "source_type": "text",
            "children": [{"name": f"c{i}", "source_type": "text", "content": "x"} for i in range(2)],
        },
        format="json",
    )
    assert batch.status_code == 403 and batch.json()["detail"].startswith("Quota exceeded: sources (limit 3")
    assert [_text_source(client, bot).status_code for _ in range(2)] == [201, 201]
    refused = _text_source(client, bot)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Quota exceeded: sources (limit 3 sources on plan 'tight'); 3 in use"


def test_deleted_sources_free_their_quota(tenant_a, plan):
    plan(sources=1)
    bot = _bot(tenant_a)
    client = tenant_a.client()
    first = _text_source(client, bot).json()
    assert _text_source(client, bot).status_code == 403

    assert client.delete(f"/v1/sources/{first['id']}").status_code == 204
    assert _text_source(client, bot).status_code == 201


def test_stored_chunks_at_the_limit_refuse_new_sources(tenant_a, plan):
    plan(chunks=10)
    bot = _bot(tenant_a)
    client = tenant_a.client()
    source_id = _text_source(client, bot).json()["id"]
    with tenant_context(tenant_a.tenant):
        Source.objects.filter(pk=source_id).update(chunk_count=10)

    refused = _text_source(client, bot)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Quota exceeded: chunks (limit 10 stored chunks on plan 'tight'); 10 in use"


def test_upload_bytes_over_quota_are_403(tenant_a, plan, django_capture_on_commit_callbacks):
    plan(upload_bytes=100)
    bot = _bot(tenant_a)
    client = tenant_a.client()

    def upload(size):
        file = SimpleUploadedFile("notes.txt", b"a" * size, content_type="text/plain")
        return client.post("/v1/sources/upload", {"file": file, "bot_profile_id": str(bot.id)}, format="multipart")

    with django_capture_on_commit_callbacks(execute=False):
        assert upload(60).status_code == 201
        refused = upload(41)
        accepted = upload(40)

    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Quota exceeded: upload_bytes (limit 100 bytes of uploaded files")
    assert accepted.status_code == 201


# --- rate-like quotas: 429 -----------------------------------------------------------------------------------


def test_chat_requests_per_day_are_429_and_refusals_are_not_counted(tenant_a, plan):
    plan(chat_requests_per_day=2)
    bot = _bot(tenant_a)
    client = tenant_a.client()

    assert [_chat(client, bot).status_code for _ in range(2)] == [200, 200]
    refused = _chat(client, bot)
    again = _chat(client, bot)

    assert refused.status_code == again.status_code == 429
    detail = refused.json()["detail"]
    assert detail.startswith("Quota exceeded: chat_requests_per_day (limit 2 chat requests per day on plan 'tight')")
    assert "resets at " in detail and detail.endswith("T00:00:00Z")
    assert 0 < int(refused["Retry-After"]) <= 86400  # seconds until the next UTC day
    assert client.get("/v1/tenants/me").json()["quotas"]["chat_requests_per_day"] == {"used": 2, "limit": 2}


def test_tokens_per_month_used_up_are_429(tenant_a, plan, django_capture_on_commit_callbacks):
    plan(tokens_per_month=100)
    bot = _bot(tenant_a)
    client = tenant_a.client()
    with tenant_context(tenant_a.tenant), django_capture_on_commit_callbacks(execute=True):
        usage_record(kind=UsageKind.CHAT, model="gpt-4o-mini", prompt_tokens=60, completion_tokens=40)
        usage_record(kind=UsageKind.EMBEDDING, model="text-embedding-3-small", prompt_tokens=5000)  # not counted

    refused = _chat(client, bot)

    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(
        "Quota exceeded: tokens_per_month (limit 100 LLM tokens per month on plan 'tight'); resets at "
    )
    assert client.get("/v1/tenants/me").json()["quotas"]["tokens_per_month"] == {"used": 100, "limit": 100}


def test_chat_tokens_are_counted_as_turns_complete(tenant_a, plan, django_capture_on_commit_callbacks):
    plan(tokens_per_month=1_000_000)
    bot = _bot(tenant_a)
    client = tenant_a.client()
    assert client.get("/v1/tenants/me").json()["quotas"]["tokens_per_month"]["used"] == 0  # counter seeded

    with django_capture_on_commit_callbacks(execute=True):
        reply = _chat(client, bot).json()

    used = client.get("/v1/tenants/me").json()["quotas"]["tokens_per_month"]["used"]
    assert used == reply["usage"]["total_tokens"] > 0


def test_quota_counters_fall_back_to_the_database_when_the_cache_is_down(tenant_a, plan, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    plan(chat_requests_per_day=1)
    bot = _bot(tenant_a)
    dead = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    monkeypatch.setattr(counters, "_cache", lambda: dead)
    client = tenant_a.client()

    assert _chat(client, bot).status_code == 200
    assert _chat(client, bot).status_code == 429  # counted from today's stored user messages


# --- visibility -------------------------------------------------------------------------------------------


def test_tenant_me_shows_usage_toward_every_quota(tenant_a, plan):
    plan(sources=5, bots=3, upload_bytes=1000)
    bot = _bot(tenant_a)
    client = tenant_a.client()
    _text_source(client, bot)

    body = client.get("/v1/tenants/me").json()

    assert {"id", "name", "slug", "is_active", "plan"} <= set(body)
    assert body["quotas"] == {
        "tokens_per_month": {"used": 0, "limit": None},
        "chat_requests_per_day": {"used": 0, "limit": None},
        "sources": {"used": 1, "limit": 5},
        "chunks": {"used": 0, "limit": None},
        "upload_bytes": {"used": 0, "limit": 1000},
        "bots": {"used": 1, "limit": 3},
    }


def test_an_unknown_plan_gets_the_fallback_plans_limits(tenant_a, settings):
    settings.PLANS = {**settings.PLANS, "free": {**UNLIMITED, "bots": 7}}
    tenant_a.tenant.plan = "renamed-plan"
    tenant_a.tenant.save(update_fields=["plan"])
    try:
        quotas = tenant_a.client().get("/v1/tenants/me").json()["quotas"]
    finally:
        tenant_a.tenant.plan = "free"
    assert quotas["bots"]["limit"] == 7


def test_console_tenant_page_shows_quotas_and_throttling(tenant_a, plan):
    from django.test import Client

    from minirag.api import throttling
    from tenants.models import User

    plan(sources=5)
    bot = _bot(tenant_a)
    _text_source(tenant_a.client(), bot)
    throttling.record_denial(
        scope="chat_bot", tenant_id=tenant_a.tenant.id, ident="x", first_in_window=False, rate=None, path="/"
    )
    operator = User.objects.create_superuser(email="ops@minirag.example", password="correct-horse-battery-staple")
    client = Client()
    client.force_login(operator, backend="tenants.backends.OperatorBackend")

    page = client.get(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/").content.decode()

    assert "Quotas (plan tight)" in page
    assert 'data-quota="sources">1 / 5<' in page
    assert 'data-throttled="chat_bot">1<' in page


# --- usage.threshold ---------------------------------------------------------------------------------------


def test_threshold_events_at_80_and_100_percent_once_per_period(
    tenant_a, plan, emitted, django_capture_on_commit_callbacks
):
    plan(chat_requests_per_day=5)
    bot = _bot(tenant_a)
    client = tenant_a.client()

    with django_capture_on_commit_callbacks(execute=True):
        statuses = [_chat(client, bot).status_code for _ in range(6)]

    assert statuses == [200, 200, 200, 200, 200, 429]
    assert [(event["quota"], event["threshold"], event["used"], event["limit"]) for event in emitted] == [
        ("chat_requests_per_day", 80, 4, 5),
        ("chat_requests_per_day", 100, 5, 5),
    ]
    assert emitted[0]["plan"] == "tight" and len(emitted[0]["period"]) == 10  # "YYYY-MM-DD"

    # Crossing again in the same period (e.g. after the counter was lost) sends nothing new.
    cache.clear()
    with tenant_context(tenant_a.tenant):
        from chat.models import Message

        Message.objects.filter(role="user").delete()
    with django_capture_on_commit_callbacks(execute=True):
        [_chat(client, bot) for _ in range(5)]
    assert len(emitted) == 2
    with tenant_context(tenant_a.tenant):
        assert QuotaNotice.objects.count() == 2


def test_size_thresholds_are_sent_when_crossed(tenant_a, plan, emitted, django_capture_on_commit_callbacks):
    plan(sources=5)
    bot = _bot(tenant_a)
    client = tenant_a.client()

    with django_capture_on_commit_callbacks(execute=True):
        [_text_source(client, bot, f"s{i}") for i in range(5)]

    assert [(event["quota"], event["threshold"], event["used"]) for event in emitted] == [
        ("sources", 80, 4),
        ("sources", 100, 5),
    ]
    assert len(emitted[0]["period"]) == 7  # once per calendar month for size-like quotas


def test_chunk_thresholds_are_checked_after_ingestion(tenant_a, plan, emitted, django_capture_on_commit_callbacks):
    plan(chunks=10)
    bot = _bot(tenant_a)
    source_id = _text_source(tenant_a.client(), bot).json()["id"]
    with tenant_context(tenant_a.tenant), django_capture_on_commit_callbacks(execute=True):
        Source.objects.filter(pk=source_id).update(chunk_count=9)
        events.emit(events.SOURCE_INGESTED, {"source_id": source_id})
        quota_check_chunk_thresholds(tenant=tenant_a.tenant)  # a second ingestion in the month: nothing new

    assert [(event["quota"], event["threshold"], event["used"]) for event in emitted] == [("chunks", 80, 9)]


def test_webhooks_can_subscribe_to_usage_threshold(tenant_a):
    response = tenant_a.client().post(
        "/v1/webhooks", {"url": "https://93.184.215.14/hooks/q", "events": ["usage.threshold"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["events"] == ["usage.threshold"]


# --- cost --------------------------------------------------------------------------------------------------


def test_a_chat_turn_costs_no_extra_query_once_counters_are_cached(tenant_a, plan, settings):
    bot = _bot(tenant_a)
    client = tenant_a.client()

    def queries_of_one_turn() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _chat(client, bot).status_code == 200
        return len(captured)

    queries_of_one_turn()  # the first request of a token may write its last_used_at
    unlimited = queries_of_one_turn()
    plan(tokens_per_month=10**9, chat_requests_per_day=10**6, sources=10**6, bots=10**6)
    queries_of_one_turn()  # seeds this day's and month's counters (one aggregate query each)
    limited = queries_of_one_turn()

    assert limited == unlimited


def test_console_changes_a_tenants_plan_among_the_defined_plans(tenant_a):
    from django.test import Client

    from tenants.models import Tenant, User

    operator = User.objects.create_superuser(email="ops@minirag.example", password="correct-horse-battery-staple")
    client = Client()
    client.force_login(operator, backend="tenants.backends.OperatorBackend")
    url = f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/"
    form = {"name": tenant_a.tenant.name, "plan": "pro"}

    assert client.post(url, form).status_code == 302
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "pro"
    refused = client.post(url, {**form, "plan": "platinum"})
    assert refused.status_code == 200 and Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "pro"


def test_unlimited_rate_quotas_still_show_current_use(tenant_a, plan):
    plan(sources=10)  # chat requests and tokens unlimited: not counted in the cache, read from the database
    bot = _bot(tenant_a)
    client = tenant_a.client()
    assert client.get("/v1/tenants/me").json()["quotas"]["chat_requests_per_day"] == {"used": 0, "limit": None}

    _chat(client, bot)
    _chat(client, bot)

    assert client.get("/v1/tenants/me").json()["quotas"]["chat_requests_per_day"] == {"used": 2, "limit": None}


def test_token_thresholds_are_sent_as_usage_is_recorded(tenant_a, plan, emitted, django_capture_on_commit_callbacks):
    plan(tokens_per_month=100)
    tenant_a.client().get("/v1/tenants/me")  # the month's counter exists (a chat request seeds it too)
    with tenant_context(tenant_a.tenant), django_capture_on_commit_callbacks(execute=True):
        usage_record(kind=UsageKind.CHAT, model="gpt-4o-mini", prompt_tokens=50, completion_tokens=20)  # 70 %
        usage_record(kind=UsageKind.TITLE, model="gpt-4o-mini", prompt_tokens=10, completion_tokens=5)  # 85 %
        usage_record(kind=UsageKind.CHAT, model="gpt-4o-mini", prompt_tokens=5, completion_tokens=5)  # 95 %

    assert [(event["quota"], event["threshold"], event["used"]) for event in emitted] == [("tokens_per_month", 80, 85)]
    assert len(emitted[0]["period"]) == 7  # "YYYY-MM"


# --- counters registered by the apps that store what is counted ----------------------------------------------


def test_size_quotas_are_counted_by_the_apps_that_store_them_one_query_each(in_tenant):
    from sources.tests.factories import SourceFactory
    from usage.selectors import size_quota_usage

    bot = BotFactory()
    BotFactory(is_active=False)
    SourceFactory(bot_profile=bot, chunk_count=4)
    SourceFactory(bot_profile=bot, chunk_count=3, is_active=False)
    with CaptureQueriesContext(connection) as captured:
        used = size_quota_usage(quotas=["sources", "chunks", "upload_bytes", "bots"])
    assert used == {"sources": 1, "chunks": 4, "upload_bytes": 0, "bots": 1}
    assert len(captured) == 2  # the sources app's aggregate and the bots app's count


def test_a_quota_nobody_counts_is_a_configuration_error(in_tenant, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from usage import selectors

    monkeypatch.setattr(selectors, "_size_counters", {})
    monkeypatch.setattr(selectors, "_rate_counters", {})
    with pytest.raises(ImproperlyConfigured, match="bots"):
        selectors.size_quota_usage(quotas=["bots"])
    with pytest.raises(ImproperlyConfigured, match="chat_requests_per_day"):
        selectors.rate_quota_seed(quota="chat_requests_per_day", since=timezone.now())
