"""/v1/publishable-keys: owners and admins issue, change and delete keys for their bots; members list them; the raw
key is shown once and only its hash is stored; origins are validated and normalised; a paused or deleted key stops
at once. (What a key may do with the API: minirag/tests/test_publishable_key_routes.py.)"""

import hashlib
import re

import pytest
from django.test import Client

from chat.tests.conftest import make_extractive_bot
from minirag.api.origins import check_public_base_url, normalise_origin
from tenants.models import PublishableKey, Role
from tenants.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://shop.example"


@pytest.fixture
def bot(tenant_a):
    return make_extractive_bot(tenant_a.tenant)


def _create(client, bot, **body):
    payload = {"bot_profile_id": str(bot.id), "name": "Shop widget", "allowed_origins": [SITE], **body}
    return client.post("/v1/publishable-keys", payload, format="json")


def _client_for(handle, role):
    from tenants.services import api_token_create

    user = UserFactory(tenant=handle.tenant, role=role)
    return handle.client(api_token_create(user=user, name=role).raw_token)


def _chat(raw_key, origin=SITE):
    from rest_framework.test import APIClient

    client = APIClient()
    return client.post(
        "/v1/chat",
        {"message": "Hello?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {raw_key}",
        HTTP_ORIGIN=origin,
    )


def test_an_owner_creates_a_key_shown_once_and_stored_hashed(tenant_a, bot):
    # When the owner creates a key for a bot
    response = _create(tenant_a.client(), bot, allowed_origins=["HTTPS://Shop.Example:443/", "http://localhost:8080"])

    # Then the raw key is in the answer once, with a share link carrying it in the fragment
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert re.fullmatch(r"pk_[A-Za-z0-9_-]{40,}", raw)
    assert body["share_url"] == f"http://testserver/c/{body['id']}#{raw}"
    assert body["key_prefix"] == raw[:12] and body["bot_profile_id"] == str(bot.id)
    assert body["allowed_origins"] == [SITE, "http://localhost:8080"]  # normalised
    assert body["created_by_id"] == str(tenant_a.owner.id) and body["is_active"] is True
    # And the server keeps only the hash: no column holds the raw key
    key = PublishableKey.objects.get(pk=body["id"])
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(PublishableKey.objects.filter(pk=key.pk).values().get())
    # And reading the key again never shows it
    again = tenant_a.client().get(f"/v1/publishable-keys/{key.id}").json()
    assert "key" not in again and "share_url" not in again and raw not in str(again)
    assert again["key_prefix"] == raw[:12]


def test_the_share_link_uses_the_public_base_url_when_set(tenant_a, bot, settings):
    settings.PUBLIC_BASE_URL = "https://minirag.example.com"
    body = _create(tenant_a.client(), bot).json()
    assert body["share_url"] == f"https://minirag.example.com/c/{body['id']}#{body['key']}"


def test_members_list_and_read_but_only_owners_and_admins_manage(tenant_a, bot):
    member = _client_for(tenant_a, Role.MEMBER)
    admin = _client_for(tenant_a, Role.ADMIN)
    key_id = _create(tenant_a.client(), bot).json()["id"]

    # A member lists and reads…
    listed = member.get("/v1/publishable-keys")
    assert listed.status_code == 200 and key_id in [item["id"] for item in listed.json()]
    assert member.get(f"/v1/publishable-keys/{key_id}").status_code == 200
    # …but cannot create, change or delete
    refused = _create(member, bot)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only owners and admins can manage publishable keys"}
    assert member.patch(f"/v1/publishable-keys/{key_id}", {"name": "x"}, format="json").status_code == 403
    assert member.delete(f"/v1/publishable-keys/{key_id}").status_code == 403
    # An admin may
    assert _create(admin, bot).status_code == 201
    assert admin.patch(f"/v1/publishable-keys/{key_id}", {"name": "Renamed"}, format="json").json()["name"] == "Renamed"
    assert admin.delete(f"/v1/publishable-keys/{key_id}").status_code == 204


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example/path",
        "https://shop.example?x=1",
        "ftp://shop.example",
        "https://*.shop.example",
        "shop.example",
        "https://user@shop.example",
        "null",
        "",
        "https://",
        "https://shop..example",
    ],
)
def test_an_origin_that_is_not_scheme_host_port_is_a_422(tenant_a, bot, origin):
    response = _create(tenant_a.client(), bot, allowed_origins=[origin])
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][:2] == ["body", "allowed_origins"]
    assert PublishableKey.objects.filter(tenant=tenant_a.tenant).count() == 0


def test_the_bot_must_be_one_of_the_tenants(tenant_a, tenant_b, bot):
    other_tenants_bot = make_extractive_bot(tenant_b.tenant)
    for bot_id in (other_tenants_bot.id, "not-a-uuid", None):
        response = tenant_a.client().post(
            "/v1/publishable-keys", {"bot_profile_id": bot_id, "name": "x"}, format="json"
        )
        assert response.status_code == 422, (bot_id, response.content)
        assert response.json()["detail"][0]["loc"] == ["body", "bot_profile_id"]
    assert PublishableKey.objects.count() == 0


def test_too_many_origins_is_a_422(tenant_a, bot):
    origins = [f"https://site{index}.example" for index in range(21)]
    assert _create(tenant_a.client(), bot, allowed_origins=origins).status_code == 422


def test_another_tenants_key_answers_like_a_missing_one(tenant_a, tenant_b, bot):
    key_id = _create(tenant_a.client(), bot).json()["id"]
    client_b = tenant_b.client()
    assert client_b.get("/v1/publishable-keys").json() == []
    for method in ("get", "patch", "delete"):
        response = getattr(client_b, method)(f"/v1/publishable-keys/{key_id}", {}, format="json")
        assert response.status_code == 404 and response.json() == {"detail": "Publishable key not found"}
    assert PublishableKey.objects.get(pk=key_id).is_active


def test_the_list_is_bounded_and_filters_by_bot(tenant_a, bot):
    other_bot = make_extractive_bot(tenant_a.tenant, name="Other")
    client = tenant_a.client()
    for index in range(3):
        _create(client, bot, name=f"key {index}")
    _create(client, other_bot, name="other")

    page = client.get("/v1/publishable-keys?limit=2")
    assert page.status_code == 200 and len(page.json()) == 2 and page["X-Total-Count"] == "4"
    assert [item["name"] for item in page.json()] == ["other", "key 2"]  # newest first
    only_bot = client.get(f"/v1/publishable-keys?bot_profile_id={bot.id}").json()
    assert {item["bot_profile_id"] for item in only_bot} == {str(bot.id)} and len(only_bot) == 3
    assert client.get("/v1/publishable-keys?bot_profile_id=nope").status_code == 422


def test_patch_changes_only_what_is_sent_and_pausing_stops_the_key(tenant_a, bot):
    client = tenant_a.client()
    created = _create(client, bot).json()
    url = f"/v1/publishable-keys/{created['id']}"
    assert _chat(created["key"]).status_code == 200

    changed = client.patch(url, {"allowed_origins": ["http://127.0.0.1:8000"]}, format="json").json()
    assert changed["allowed_origins"] == ["http://127.0.0.1:8000"] and changed["name"] == "Shop widget"
    assert _chat(created["key"]).status_code == 403  # the old site is no longer allowed
    assert _chat(created["key"], origin="http://127.0.0.1:8000").status_code == 200

    assert client.patch(url, {"is_active": False}, format="json").json()["is_active"] is False
    paused = _chat(created["key"], origin="http://127.0.0.1:8000")
    assert paused.status_code == 401 and paused.json() == {"detail": "Invalid or revoked publishable key"}
    client.patch(url, {"is_active": True}, format="json")
    assert _chat(created["key"], origin="http://127.0.0.1:8000").status_code == 200

    assert client.patch(url, {"allowed_origins": ["https://a.example/x"]}, format="json").status_code == 422
    assert client.patch(url, {"bot_profile_id": str(bot.id)}, format="json").json()["bot_profile_id"] == str(bot.id)


def test_delete_revokes_at_once(tenant_a, bot):
    created = _create(tenant_a.client(), bot).json()
    assert _chat(created["key"]).status_code == 200

    assert tenant_a.client().delete(f"/v1/publishable-keys/{created['id']}").status_code == 204

    refused = _chat(created["key"])
    assert refused.status_code == 401 and refused.json() == {"detail": "Invalid or revoked publishable key"}
    assert tenant_a.client().get(f"/v1/publishable-keys/{created['id']}").status_code == 404


def test_a_key_stops_with_its_creator_or_its_tenant(tenant_a, bot):
    from tenants.services import api_token_create

    admin = UserFactory(tenant=tenant_a.tenant, role=Role.ADMIN)
    raw = _create(tenant_a.client(api_token_create(user=admin, name="a").raw_token), bot).json()["key"]
    assert _chat(raw).status_code == 200

    admin.is_active = False
    admin.save(update_fields=["is_active"])
    assert _chat(raw).status_code == 401

    admin.is_active = True
    admin.save(update_fields=["is_active"])
    tenant_a.tenant.is_active = False
    tenant_a.tenant.save(update_fields=["is_active"])
    try:
        assert _chat(raw).status_code == 401
    finally:
        tenant_a.tenant.is_active = True
        tenant_a.tenant.save(update_fields=["is_active"])


def test_the_console_lists_keys_without_any_secret(tenant_a, bot):
    from tenants.models import User

    raw = _create(tenant_a.client(), bot).json()["key"]
    key = PublishableKey.objects.get()
    operator = User.objects.create_superuser(email="ops@example.com", password="correct-horse-battery-staple")
    browser = Client()
    browser.force_login(operator, backend="tenants.backends.OperatorBackend")

    listing = browser.get("/admin/tenants/publishablekey/")
    page = browser.get(f"/admin/tenants/publishablekey/{key.id}/change/")

    assert listing.status_code == 200 and page.status_code == 200
    for html in (listing.content.decode(), page.content.decode()):
        assert key.key_prefix in html
        assert raw not in html and key.key_hash not in html


def test_the_console_tells_key_chats_apart(tenant_a, bot):
    from tenants.models import User

    raw = _create(tenant_a.client(), bot).json()["key"]
    assert _chat(raw).status_code == 200
    tenant_a.client().post("/v1/chat", {"bot_profile_id": str(bot.id), "message": "From the team"}, format="json")
    operator = User.objects.create_superuser(email="ops@example.com", password="correct-horse-battery-staple")
    browser = Client()
    browser.force_login(operator, backend="tenants.backends.OperatorBackend")

    html = browser.get(f"/admin/chat/chat/?tenant={tenant_a.tenant.slug}").content.decode()

    assert "column-via_key" in html and "Via key" in html
    rows = {title: row for row in html.split("<tr")[1:] for title in ("Hello?", "From the team") if title in row}
    assert 'alt="True"' in rows["Hello?"] and 'alt="False"' in rows["From the team"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("https://shop.example:443/", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(given, stored):
    assert normalise_origin(given) == stored


def test_a_public_base_url_with_a_path_keeps_it_in_share_links(tenant_a, bot, settings):
    settings.PUBLIC_BASE_URL = "https://example.com/minirag"
    body = _create(tenant_a.client(), bot).json()
    assert body["share_url"] == f"https://example.com/minirag/c/{body['id']}#{body['key']}"
    assert _chat(body["key"], origin="https://example.com").status_code == 200  # its origin is MiniRAG's own
    assert check_public_base_url() == []
    settings.PUBLIC_BASE_URL = "minirag.example.com"
    assert [error.id for error in check_public_base_url()] == ["minirag.E110"]
