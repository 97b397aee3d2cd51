"""A publishable key (`pk_…`) can do exactly one thing: chat with its bot (and read / rate the chats it started).

Every route under /v1/ is tried with a valid key from an allowed Origin; every tenant endpoint refuses it (401/403)
except the chat routes that opt in, and those only for the key's own chats.
"""

import pytest
from rest_framework.test import APIClient

from chat.tests.conftest import make_extractive_bot
from minirag.tests.test_api_base import PUBLIC, _methods, _url, tenant_endpoints
from tenants.publishable_keys import publishable_key_create

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
                # Random ids: the key's scoping answers 404 (or 422 for an empty chat body), never 401/403.
                assert response.status_code in (404, 422), (method, url, response.content)
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
