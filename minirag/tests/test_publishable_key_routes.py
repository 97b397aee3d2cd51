"""A publishable key (`pk_…`) can do exactly one thing: chat with its bot (and read / rate the chats it started).

Every route under /v1/ is tried with a valid key from an allowed Origin; every tenant endpoint refuses it (401/403)
except the chat routes that opt in, and those only for the key's own chats.
"""

import uuid

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from chat.models import Chat, Message
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_extractive_bot, parse_sse
from minirag.api.authentication import TenantCredentialAuthentication
from minirag.api.permissions import ManagerForWrites, key_access_methods, publishable_bot_id, publishable_key_id
from minirag.tenancy import tenant_context
from minirag.tests.test_api_base import PUBLIC, _methods, _url, tenant_endpoints
from tenants.credentials import resolve_bearer
from tenants.publishable_keys import publishable_key_create
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db

SITE = "https://shop.example"
# The routes a key may call (URL name, method); the chat views opt in with `publishable_key_access`.
KEY_ROUTES = {
    ("chat", "post"),
    ("chat-detail", "get"),
    ("chat-messages", "get"),
    ("chat-message-feedback", "patch"),
}
# OpenAI-compatible routes (issue 12) also opt in: a key may call them for its bot.
KEY_ROUTE_PREFIXES = ("openai-",)


def _key(handle, bot, origins=(SITE,)):
    return publishable_key_create(
        tenant=handle.tenant,
        created_by=handle.owner,
        bot_profile_id=bot.id,
        name="site",
        allowed_origins=list(origins),
    )


def _client(raw_key, origin=SITE) -> APIClient:
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    client.credentials(**headers)
    return client


def _key_may(entry, method) -> bool:
    return (entry.name, method) in KEY_ROUTES or entry.name.startswith(KEY_ROUTE_PREFIXES)


def test_every_other_tenant_route_refuses_a_publishable_key(tenant_a):
    # Given a valid key (owner-created: its creator's role must lend it nothing) from an allowed origin
    bot = make_extractive_bot(tenant_a.tenant)
    client = _client(_key(tenant_a, bot).raw_key)
    refused = allowed = 0
    for _, entry in tenant_endpoints():
        url = _url(entry)
        for method in _methods(entry):
            response = getattr(client, method)(url, {}, format="json")
            if _key_may(entry, method):
                # Let in: random ids answer 404 (the key's scoping), an empty body 422 — never 401/403.
                assert response.status_code not in (401, 403), (method, url, response.content)
                allowed += 1
                continue
            # Then everything else is refused before the view runs, with the reason, and no CORS header
            assert response.status_code == 403, (method, url, response.status_code, response.content)
            assert response.json()["detail"].startswith("A publishable key can only chat"), (method, url)
            assert "Access-Control-Allow-Origin" not in response
            refused += 1
    assert allowed >= len(KEY_ROUTES)
    assert refused >= 40


def test_the_public_routes_stay_what_they_are(tenant_a):
    # A key is no credential for the public routes: health and docs answer as for anyone, login wants a login.
    bot = make_extractive_bot(tenant_a.tenant)
    client = _client(_key(tenant_a, bot).raw_key)
    assert client.get("/v1/system/health").status_code == 200
    assert client.post("/v1/auth/login", {}, format="json").status_code == 422
    assert "tenant-bootstrap" in PUBLIC


# --- What a key may do: chat with its bot, read and rate the chats it started ---------------------------------


@pytest.fixture
def shop(tenant_a, django_capture_on_commit_callbacks):
    """Tenant A's extractive bot with knowledge, and a key for it allowed on SITE."""
    bot = make_extractive_bot(tenant_a.tenant, name="Shop bot")
    ingest_text(
        tenant_a.tenant, bot, name="Quaxland facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks
    )
    return bot, _key(tenant_a, bot)


def _ask(client, message="What is the capital of Quaxland?", headers=None, **extra):
    return client.post("/v1/chat", {"message": message, **extra}, format="json", **(headers or {}))


def test_a_key_chats_with_its_bot_and_gets_a_cited_answer_with_cors_headers(tenant_a, shop):
    bot, issued = shop
    response = _ask(_client(issued.raw_key))  # no bot_profile_id: the key names its bot

    assert response.status_code == 200, response.content
    body = response.json()
    assert "Blipton" in body["message"]["content"]
    assert body["sources"][0]["source_name"] == "Quaxland facts"
    assert response["Access-Control-Allow-Origin"] == SITE
    assert "origin" in response["Vary"].lower() and "Retry-After" in response["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response
    # The chat is the key's, nobody's account's; usage is recorded as for any chat
    with tenant_context(tenant_a.tenant):
        chat = Chat.objects.get(pk=body["chat_id"])
        assert chat.publishable_key_id == issued.key.id and chat.user_id is None and chat.bot_profile_id == bot.id
        assert UsageEvent.objects.filter(chat_id=chat.id).count() == 1


def test_a_key_streams_continues_reads_and_rates_its_own_chat(tenant_a, shop):
    _, issued = shop
    client = _client(issued.raw_key)
    first = _ask(client).json()

    streamed = client.post(
        "/v1/chat",
        {"message": "And its national dish?", "chat_id": first["chat_id"], "stream": True},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert streamed.status_code == 200 and streamed["Access-Control-Allow-Origin"] == SITE
    events = parse_sse(b"".join(streamed.streaming_content))
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert events[-1][1]["chat_id"] == first["chat_id"]

    chat = client.get(f"/v1/chat/{first['chat_id']}")
    messages = client.get(f"/v1/chat/{first['chat_id']}/messages")
    assert chat.status_code == 200 and chat.json()["message_count"] == 4
    assert [message["role"] for message in messages.json()] == ["user", "assistant", "user", "assistant"]
    assert messages["Access-Control-Allow-Origin"] == SITE
    rated = client.patch(
        f"/v1/chat/{first['chat_id']}/messages/{first['message']['id']}/feedback",
        {"feedback": "positive"},
        format="json",
    )
    assert rated.status_code == 200 and rated.json()["feedback"] == "positive"


def test_a_key_cannot_read_or_continue_other_chats(tenant_a, shop):
    # Given a chat of the same bot made with the owner's API token, and one made with another key of the bot
    bot, issued = shop
    by_token = _ask(tenant_a.client(), bot_profile_id=str(bot.id)).json()
    by_other_key = _ask(_client(_key(tenant_a, bot).raw_key)).json()
    client = _client(issued.raw_key)

    for other in (by_token, by_other_key):
        chat_id, message_id = other["chat_id"], other["message"]["id"]
        # Then the key sees neither: each answers like a chat that does not exist
        for response in (
            client.get(f"/v1/chat/{chat_id}"),
            client.get(f"/v1/chat/{chat_id}/messages"),
            client.patch(f"/v1/chat/{chat_id}/messages/{message_id}/feedback", {"feedback": "negative"}, format="json"),
            _ask(client, chat_id=chat_id),
        ):
            assert response.status_code == 404, response.content
            assert response.json() == {"detail": "Chat session not found"}
    # And it cannot list chats, nor export them
    assert client.get("/v1/chat").status_code == 403
    assert client.get(f"/v1/chat/{by_token['chat_id']}/export").status_code == 403
    with tenant_context(tenant_a.tenant):
        assert Message.objects.filter(feedback="negative").count() == 0


def test_a_key_cannot_list_sources_or_touch_another_bot(tenant_a, tenant_b, shop):
    bot, issued = shop
    other_bot = make_extractive_bot(tenant_a.tenant, name="Internal HR bot")
    client = _client(issued.raw_key)

    assert client.get("/v1/sources").status_code == 403
    assert client.get(f"/v1/bot-profiles/{bot.id}").status_code == 403
    refused = _ask(client, bot_profile_id=str(other_bot.id))
    assert refused.status_code == 403 and refused.json() == {"detail": "This publishable key is for another bot"}
    # Another tenant's bot is out of reach too (the key's tenant decides the schema)
    assert _ask(client, bot_profile_id=str(make_extractive_bot(tenant_b.tenant).id)).status_code == 403
    with tenant_context(tenant_a.tenant):
        assert not Chat.objects.filter(bot_profile_id=other_bot.id).exists()


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", "https://shop.example.evil.example"])
def test_a_missing_or_foreign_origin_is_refused_without_cors_headers(tenant_a, shop, origin):
    _, issued = shop
    response = _ask(_client(issued.raw_key, origin=origin))
    assert response.status_code == 403
    assert response.json() == {"detail": "This page's origin is not allowed for this publishable key"}
    assert "Access-Control-Allow-Origin" not in response
    with tenant_context(tenant_a.tenant):
        assert not Chat.objects.exists()


def test_miniRAGs_own_origin_is_allowed_for_the_hosted_page(tenant_a, shop, settings):
    _, issued = shop
    assert _ask(_client(issued.raw_key, origin="http://testserver")).status_code == 200
    settings.PUBLIC_BASE_URL = "https://minirag.example.com"
    assert _ask(_client(issued.raw_key, origin="https://minirag.example.com")).status_code == 200
    assert _ask(_client(issued.raw_key, origin="http://testserver")).status_code == 403


def test_a_revoked_or_unknown_key_is_401(tenant_a, shop):
    _, issued = shop
    issued.key.delete()
    for raw in (issued.raw_key, "pk_not-a-real-key"):
        response = _ask(_client(raw))
        assert response.status_code == 401 and response.json() == {"detail": "Invalid or revoked publishable key"}
        # The widget may read that (only that) on the chat routes; elsewhere no CORS header
        assert response["Access-Control-Allow-Origin"] == SITE
        assert "Access-Control-Allow-Origin" not in _client(raw).get("/v1/sources")


def test_preflight_answers_the_chat_routes_only(tenant_a, shop):
    client = APIClient()
    preflight = {"HTTP_ORIGIN": SITE, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}

    chat = client.options("/v1/chat", **preflight)
    assert chat.status_code == 204
    assert chat["Access-Control-Allow-Origin"] == SITE and chat["Access-Control-Allow-Methods"] == "POST"
    assert chat["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "Access-Control-Allow-Credentials" not in chat
    feedback = client.options(f"/v1/chat/{uuid.uuid4()}/messages/{uuid.uuid4()}/feedback", **preflight)
    assert feedback.status_code == 204 and feedback["Access-Control-Allow-Methods"] == "PATCH"
    # Anything else gets no CORS answer from here
    for path in ("/v1/sources", "/v1/chat/export", "/v1/publishable-keys", "/admin/"):
        assert "Access-Control-Allow-Origin" not in client.options(path, **preflight), path


def test_no_cors_headers_for_other_credentials(tenant_a, shop):
    bot, _ = shop
    response = tenant_a.client().post(
        "/v1/chat", {"bot_profile_id": str(bot.id), "message": "Hi"}, format="json", HTTP_ORIGIN=SITE
    )
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("scope", ["publishable_ip", "publishable_key"])
def test_a_key_is_rate_limited(tenant_a, shop, settings, fresh_counters, scope):
    _, issued = shop
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, scope: "2/min"}
    client = _client(issued.raw_key)

    assert [_ask(client, "hi").status_code for _ in range(2)] == [200, 200]
    limited = _ask(client, "hi")

    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert limited.json()["detail"].startswith("Rate limit exceeded: at most 2 requests per publishable key")
    assert limited["Access-Control-Allow-Origin"] == SITE  # the widget can read why
    # Another key of the same bot has its own allowance; API tokens are not affected
    assert _ask(_client(_key(tenant_a, shop[0]).raw_key), "hi").status_code == 200


def test_per_ip_limits_count_each_visitor_apart(tenant_a, shop, settings, fresh_counters):
    _, issued = shop
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "publishable_ip": "1/min"}
    client = _client(issued.raw_key)
    assert _ask(client, "hi", headers={"REMOTE_ADDR": "198.51.100.1"}).status_code == 200
    assert _ask(client, "hi", headers={"REMOTE_ADDR": "198.51.100.1"}).status_code == 429
    assert _ask(client, "hi", headers={"REMOTE_ADDR": "198.51.100.2"}).status_code == 200


def test_the_tenants_quota_applies_to_key_chats(tenant_a, shop, settings, fresh_counters):
    _, issued = shop
    unlimited = dict.fromkeys(settings.PLANS["free"], None)
    settings.PLANS = {**settings.PLANS, "tight": {**unlimited, "chat_requests_per_day": 1}}
    tenant_a.tenant.plan = "tight"
    tenant_a.tenant.save(update_fields=["plan"])
    try:
        client = _client(issued.raw_key)
        assert _ask(client, "hi").status_code == 200
        refused = _ask(client, "hi")
        assert refused.status_code == 429 and refused.json()["detail"].startswith("Quota exceeded")
    finally:
        tenant_a.tenant.plan = "free"
        tenant_a.tenant.save(update_fields=["plan"])


def test_a_keys_creator_role_opens_no_role_check(tenant_a, shop):
    # The key's `user` is its (owner) creator, for attribution; ManagerForWrites must still refuse it.
    _, issued = shop
    request = APIRequestFactory().post("/v1/users", {}, format="json", HTTP_ORIGIN=SITE)
    context = resolve_bearer(issued.raw_key)
    assert context.user.is_manager and context.publishable_key.id == issued.key.id
    drf_request = Request(request)
    drf_request._authenticator = TenantCredentialAuthentication()
    drf_request._user, drf_request._auth = context.user, context
    assert ManagerForWrites().has_permission(drf_request, None) is False
    assert publishable_bot_id(drf_request) == shop[0].id and publishable_key_id(drf_request) == issued.key.id


def test_a_view_opens_to_keys_only_with_a_literal_flag():
    assert key_access_methods(type("A", (), {"publishable_key_access": True}), ["GET", "POST"]) == ["GET", "POST"]
    assert key_access_methods(type("B", (), {"publishable_key_access": frozenset({"POST"})}), ["GET", "POST"]) == [
        "POST"
    ]
    for flag in (1, "yes", ["GET"], {"GET"}, False, None):
        assert key_access_methods(type("C", (), {"publishable_key_access": flag}), ["GET"]) == []
