"""The operator console: the tenants list with the stats the apps register (one cross-schema query), the tenant
page linking to each app's admin opened on that tenant, the sources' cross-tenant failed/stuck view with retry,
deactivation, and refusal of non-staff users."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.models import BotProfile
from chat.models import Chat, Message
from minirag.tenancy import tenant_context
from sources.models import Source
from tenants.models import User
from tenants.services import tenant_bootstrap
from tenants.webhooks.models import Webhook, WebhookDelivery
from tenants.webhooks.services import webhook_create
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db

BACKEND = "tenants.backends.OperatorBackend"


@pytest.fixture(autouse=True)
def _fresh_stats_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def seeded(tenant_a, tenant_b, settings):
    """Tenant A: a bot, sources in every state, a chat, usage and a webhook. Tenant B: one stuck source."""
    settings.DEFAULT_EMBEDDING_MODEL = ""
    long_ago = timezone.now() - timedelta(seconds=settings.INGEST_STUCK_AFTER_SECONDS + 600)
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Support bot")
        ready = Source.objects.create(
            bot_profile=bot, name="Handbook", source_type="text", content="x", status="ready", chunk_count=12
        )
        failed = Source.objects.create(
            bot_profile=bot,
            name="Broken page",
            source_type="text",
            content="Blipton is the capital.",
            status="error",
            error_message="Fetching failed: HTTP 500",
            error_detail="HTTPStatusError: Server error '500 Internal Server Error' for url 'https://wiki.example/p'",
        )
        chat = Chat.objects.create(bot_profile_id=bot.id, title="Where is Blipton?", message_count=2)
        Message.objects.create(chat=chat, role="user", content="Where is Blipton?")
        Message.objects.create(chat=chat, role="assistant", content="Blipton is in Quaxland.", completion_tokens=5)
        UsageEvent.objects.create(model="gpt-4o-mini", prompt_tokens=300, completion_tokens=40, total_tokens=340)
        UsageEvent.objects.create(
            model="gpt-4o-mini", prompt_tokens=999, total_tokens=999, created_at=timezone.now() - timedelta(days=45)
        )
        hook = webhook_create(url="https://93.184.215.14/hook", events=["source.failed"], secret="s" * 24).webhook
        WebhookDelivery.objects.create(
            webhook=hook,
            delivery_id="00000000-0000-4000-8000-00000000000a",
            event="source.failed",
            attempt=1,
            status_code=503,
            error="HTTP 503",
        )
    with tenant_context(tenant_b.tenant):
        bot_b = BotProfile.objects.create(name="B bot")
        stuck = Source.objects.create(
            bot_profile=bot_b,
            name="Stuck crawl",
            source_type="text",
            content="y",
            status="processing",
            stage="embedding",
            processing_started_at=long_ago,
        )
    return {"bot": bot, "ready": ready, "failed": failed, "chat": chat, "stuck": stuck, "secret": "s" * 24}


def test_tenants_list_shows_stats_with_a_query_count_independent_of_tenants(operator, seeded, tenant_a):
    with CaptureQueriesContext(connection) as two_tenants:
        response = operator.get("/admin/tenants/tenant/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Tokens 30 d" in page and "340" in page  # the 45-day-old event is outside the window
    assert "1 ready" in page and "1 error" in page and "1 processing" in page

    for index in range(3):
        tenant_bootstrap(
            name=f"Extra {index}",
            slug=f"extra-{index}",
            owner_email=f"o{index}@x.example",
            owner_password="correct-horse-battery-staple",
        )
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as five_tenants:
        assert operator.get("/admin/tenants/tenant/").status_code == 200
    with CaptureQueriesContext(connection) as cached:
        assert operator.get("/admin/tenants/tenant/").status_code == 200

    assert len(five_tenants) == len(two_tenants) <= 12
    assert len(cached) == len(five_tenants) - 1  # the stats come from the cache on a reload


def test_tenant_page_shows_its_numbers_and_links_to_its_data_in_each_apps_admin(
    operator, seeded, tenant_a, django_assert_max_num_queries
):
    with django_assert_max_num_queries(15):
        response = operator.get(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Tokens, last 30 days<b>340</b>" in page and "Bots<b>1</b>" in page and "Chunks<b>12</b>" in page
    assert "1 ready" in page and "1 error" in page
    for changelist in ("sources/source", "bots/botprofile", "chat/chat", "usage/usageevent", "webhooks/webhook"):
        assert f"/admin/{changelist}/?tenant={tenant_a.tenant.slug}" in page
    assert "Deactivate tenant" in page


@pytest.mark.parametrize(
    ("changelist", "expected_in_a"),
    [
        ("sources/source", "Broken page"),
        ("chat/chat", "Where is Blipton?"),
        ("usage/usageevent", "gpt-4o-mini"),
        ("webhooks/webhook", "https://93.184.215.14/hook"),
        ("webhooks/webhookdelivery", "HTTP 503"),
    ],
)
def test_the_tenant_pages_links_show_that_tenants_data_only(
    operator, seeded, tenant_a, tenant_b, changelist, expected_in_a, django_assert_max_num_queries
):
    with django_assert_max_num_queries(15):
        response_a = operator.get(f"/admin/{changelist}/?tenant={tenant_a.tenant.slug}")
    response_b = operator.get(f"/admin/{changelist}/?tenant={tenant_b.tenant.slug}")

    assert response_a.status_code == response_b.status_code == 200
    a, b = response_a.content.decode(), response_b.content.decode()
    assert expected_in_a in a and expected_in_a not in b
    if changelist == "sources/source":
        assert "Stuck crawl" in b and "Stuck crawl" not in a
    assert seeded["secret"] not in a


def test_chat_page_shows_its_messages_in_order_read_only(operator, seeded, tenant_a):
    response = operator.get(f"/admin/chat/chat/{seeded['chat'].pk}/change/?tenant={tenant_a.tenant.slug}")

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("Where is Blipton?</div>") < page.index("Blipton is in Quaxland.")
    assert "<textarea" not in page and 'name="messages-0-content"' not in page


def test_failed_and_stuck_view_lists_every_tenant_and_retries(
    operator, seeded, tenant_a, tenant_b, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_assert_max_num_queries(10):
        response = operator.get("/admin/sources/source/problems/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Broken page" in page and "Fetching failed: HTTP 500" in page and "failed" in page
    assert "Server error &#x27;500 Internal Server Error&#x27; for url" in page  # the operator sees the real cause
    assert "Stuck crawl" in page and "stuck processing" in page and "embedding" in page
    assert "Handbook" not in page
    assert f"/admin/sources/source/{seeded['stuck'].pk}/change/?tenant={tenant_b.tenant.slug}" in page

    with django_capture_on_commit_callbacks(execute=True):
        retry = operator.post(
            "/admin/sources/source/problems/", {"selected": [f"{tenant_b.tenant.pk}:{seeded['stuck'].pk}"]}
        )

    assert retry.status_code == 302
    with tenant_context(tenant_b.tenant):
        assert Source.objects.get(pk=seeded["stuck"].pk).status == "ready"
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=seeded["failed"].pk).status == "error"  # not selected


def test_the_sources_list_links_to_the_failed_and_stuck_view(operator, seeded, tenant_a):
    page = operator.get(f"/admin/sources/source/?tenant={tenant_a.tenant.slug}").content.decode()

    assert 'href="/admin/sources/source/problems/"' in page


def test_deactivate_tenant_stops_its_tokens_at_once(operator, tenant_a):
    assert tenant_a.client().get("/v1/auth/me").status_code == 200

    response = operator.post(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/deactivate/")

    assert response.status_code == 302
    assert tenant_a.client().get("/v1/auth/me").status_code == 401
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.is_active is False
    tenant_a.tenant.is_active = True  # the session-scoped tenant is shared with other tests
    tenant_a.tenant.save()


CONSOLE_URLS = [
    "/admin/",
    "/admin/tenants/tenant/",
    "/admin/sources/source/problems/",
    "/admin/tenants/tenant/{a}/change/",
    "/admin/sources/source/",
    "/admin/chat/chat/",
    "/admin/usage/usageevent/",
    "/admin/webhooks/webhook/",
]


@pytest.mark.parametrize("url", CONSOLE_URLS)
def test_console_refuses_anonymous_and_non_staff_users(tenant_a, url):
    url = url.format(a=tenant_a.tenant.pk)
    anonymous = Client().get(url)
    member = Client()
    member.force_login(tenant_a.owner, backend=BACKEND)  # a tenant owner, not platform staff

    refused = member.get(url)

    for response in (anonymous, refused):
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_non_staff_cannot_post_console_actions(tenant_a, seeded):
    member = Client()
    member.force_login(tenant_a.owner, backend=BACKEND)

    deactivate = member.post(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/deactivate/")
    retry = member.post(
        "/admin/sources/source/problems/", {"selected": [f"{tenant_a.tenant.pk}:{seeded['failed'].pk}"]}
    )

    for response in (deactivate, retry):
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.is_active is True
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=seeded["failed"].pk).status == "error"


def test_admin_index_and_model_pages_render_for_an_operator(operator, seeded):
    index = operator.get("/admin/")
    users = operator.get("/admin/tenants/user/")

    assert index.status_code == 200 and users.status_code == 200
    page = index.content.decode()
    assert "Operator console" in page and "Failed &amp; stuck ingestions" in page
    assert 'id="site-name"' in page and "/admin/tenants/apitoken/" in page  # full admin layout and app list


def test_malformed_selections_are_ignored(operator, seeded, tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        problems = operator.post(
            "/admin/sources/source/problems/", {"selected": ["x:y", "no-colon", f"{tenant_a.tenant.pk}:nope"]}
        )

    assert problems.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=seeded["failed"].pk).status == "error"


def test_webhook_admin_pages_are_tenant_scoped_and_never_show_secrets(operator, seeded, tenant_a, tenant_b):
    hooks_a = operator.get(f"/admin/webhooks/webhook/?tenant={tenant_a.tenant.slug}")
    deliveries_a = operator.get(f"/admin/webhooks/webhookdelivery/?tenant={tenant_a.tenant.slug}")
    hooks_b = operator.get(f"/admin/webhooks/webhook/?tenant={tenant_b.tenant.slug}")

    assert hooks_a.status_code == deliveries_a.status_code == hooks_b.status_code == 200
    assert "https://93.184.215.14/hook" in hooks_a.content.decode()
    assert "https://93.184.215.14/hook" not in hooks_b.content.decode()
    assert "HTTP 503" in deliveries_a.content.decode()
    with tenant_context(tenant_a.tenant):
        hook = Webhook.objects.get()
    change = operator.get(f"/admin/webhooks/webhook/{hook.pk}/change/?tenant={tenant_a.tenant.slug}")
    assert change.status_code == 200
    assert seeded["secret"] not in change.content.decode() and hook.encrypted_secret not in change.content.decode()


def test_user_page_never_shows_the_password_hash(operator, tenant_a):
    owner = User.objects.get(pk=tenant_a.owner.pk)

    page = operator.get(f"/admin/tenants/user/{owner.pk}/change/")

    assert page.status_code == 200
    content = page.content.decode()
    algorithm, _, rest = owner.password.partition("$")
    assert owner.password not in content
    assert algorithm not in content and rest.split("$")[-1] not in content  # nor the salt/hash summary
    assert "salt" not in content.lower() and "hash" not in content.lower()
    assert "Set" in content
