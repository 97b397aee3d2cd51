"""Bot profile CRUD over the API (§1.5), credentials handling, and tenant isolation."""

import json
import logging
import uuid

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings

from bots.models import BotProfile
from bots.services import bot_credentials
from minirag import encryption
from minirag.tenancy import tenant_context
from tenants.webhooks.models import Webhook
from tenants.webhooks.services import webhook_create

pytestmark = pytest.mark.django_db

SECRET = "sk-test-super-secret-value-123"


def _create(client, **body):
    payload = {"name": "Support bot", **body}
    return client.post("/v1/bot-profiles", payload, format="json")


def test_create_applies_reference_defaults_and_hides_credentials(tenant_a, caplog):
    caplog.set_level(logging.DEBUG)
    response = _create(tenant_a.client(), credentials={"api_key": SECRET, "api_base": "https://api.example.com/v1"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["model"] == "gpt-4o-mini"
    assert body["embedding_model"] is None
    assert body["system_prompt"] == "You are a helpful assistant."
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 1024
    assert body["retrieval_top_k"] == 5
    assert body["score_threshold"] is None
    assert body["has_credentials"] is True
    assert body["is_active"] is True
    assert body["tenant_id"] == str(tenant_a.tenant.id)
    assert "credentials" not in body and "encrypted_credentials" not in body
    assert SECRET not in response.content.decode()
    assert SECRET not in caplog.text

    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.get(pk=body["id"])
        assert SECRET not in bot.encrypted_credentials  # encrypted at rest
        assert bot_credentials(bot) == {"api_key": SECRET, "api_base": "https://api.example.com/v1"}


def test_validation_errors_are_422(tenant_a):
    client = tenant_a.client()
    assert client.post("/v1/bot-profiles", {}, format="json").status_code == 422
    assert _create(client, temperature=2.5).status_code == 422
    assert _create(client, max_tokens=0).status_code == 422
    assert _create(client, name="x" * 256).status_code == 422
    assert _create(client, credentials={"api_key": "k", "api_base": "ftp://nope"}).status_code == 422
    response = _create(client, credentials={"api_key": "k", "password": "p"})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_list_get_patch_delete_roundtrip(tenant_a):
    client = tenant_a.client()
    first = _create(client, name="First").json()
    second = _create(client, name="Second").json()

    listed = client.get("/v1/bot-profiles").json()
    names = [bot["name"] for bot in listed]
    assert names.index("Second") < names.index("First")  # newest first

    response = client.patch(f"/v1/bot-profiles/{first['id']}", {"temperature": 0.1}, format="json")
    assert response.status_code == 200
    patched = response.json()
    assert patched["temperature"] == 0.1
    assert patched["name"] == "First"  # untouched fields keep their values
    assert patched["updated_at"] >= first["updated_at"]

    assert client.patch(f"/v1/bot-profiles/{first['id']}", {"name": None}, format="json").status_code == 422

    assert client.delete(f"/v1/bot-profiles/{second['id']}").status_code == 204
    fetched = client.get(f"/v1/bot-profiles/{second['id']}")
    assert fetched.status_code == 200 and fetched.json()["is_active"] is False
    assert second["id"] in [bot["id"] for bot in client.get("/v1/bot-profiles").json()]  # inactive listed


def test_patch_credentials_replace_and_clear(tenant_a):
    client = tenant_a.client()
    bot = _create(client, credentials={"api_key": "old"}).json()
    client.patch(f"/v1/bot-profiles/{bot['id']}", {"credentials": {"api_key": "new"}}, format="json")
    with tenant_context(tenant_a.tenant):
        assert bot_credentials(BotProfile.objects.get(pk=bot["id"])) == {"api_key": "new"}
    response = client.patch(f"/v1/bot-profiles/{bot['id']}", {"credentials": {}}, format="json")
    assert response.json()["has_credentials"] is False
    bot2 = _create(client, credentials={"api_key": "x"}).json()
    response = client.patch(f"/v1/bot-profiles/{bot2['id']}", {"credentials": None}, format="json")
    assert response.json()["has_credentials"] is False


def test_other_tenant_gets_404_even_with_the_id(tenant_a, tenant_b):
    bot = _create(tenant_a.client()).json()
    other = tenant_b.client()
    for method, kwargs in (("get", {}), ("patch", {"data": {"name": "x"}, "format": "json"}), ("delete", {})):
        response = getattr(other, method)(f"/v1/bot-profiles/{bot['id']}", **kwargs)
        assert response.status_code == 404
        assert response.json() == {"detail": "Bot profile not found"}
    assert bot["id"] not in [b["id"] for b in other.get("/v1/bot-profiles").json()]
    assert other.get(f"/v1/bot-profiles/{uuid.uuid4()}").status_code == 404
    assert tenant_a.client().get(f"/v1/bot-profiles/{bot['id']}").json()["is_active"] is True


def test_requires_authentication(api_client):
    assert api_client.get("/v1/bot-profiles").status_code in (401, 403)


def test_rotate_credentials_reencrypts_under_newest_key(tenant_a, settings):
    old_keys = list(settings.ENCRYPTION_KEYS)
    bot = _create(tenant_a.client(), credentials={"api_key": SECRET}).json()
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    with tenant_context(tenant_a.tenant):
        hook = webhook_create(url="http://127.0.0.1:9/hook", events=["chat.message"], secret="hook-secret-123456")
    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, *old_keys]
    encryption.clear_cache()
    try:
        call_command("rotate_credentials")
        settings.ENCRYPTION_KEYS = [new_key]  # old key gone: still readable
        encryption.clear_cache()
        with tenant_context(tenant_a.tenant):
            stored = BotProfile.objects.get(pk=bot["id"])
            assert bot_credentials(stored) == {"api_key": SECRET}
            assert json.loads(Fernet(new_key.encode()).decrypt(stored.encrypted_credentials.encode()))["api_key"]
            stored_hook = Webhook.objects.get(pk=hook.webhook.pk)
            assert Fernet(new_key.encode()).decrypt(stored_hook.encrypted_secret.encode()) == b"hook-secret-123456"
    finally:
        settings.ENCRYPTION_KEYS = old_keys
        encryption.clear_cache()


@override_settings(ENCRYPTION_KEYS=["not-a-fernet-key"])
def test_malformed_key_is_a_clear_configuration_error():
    from django.core.exceptions import ImproperlyConfigured

    encryption.clear_cache()
    try:
        with pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS"):
            encryption.validate_keys()
    finally:
        encryption.clear_cache()
