"""Webhook CRUD over the API: validation, SSRF guard, secrets, roles and tenant isolation."""

import socket

import pytest

from minirag.encryption import decrypt_text
from minirag.tenancy import tenant_context
from tenants.models import Role
from tenants.services import api_token_create
from tenants.tests.factories import UserFactory
from tenants.webhooks.models import Webhook, WebhookDelivery
from tenants.webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.215.14/hooks/minirag"  # a public IPv4 literal: no DNS needed in the sandbox


@pytest.fixture
def allow_private(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True


def _create(handle, **body):
    return handle.client().post(
        "/v1/webhooks", {"url": PUBLIC_URL, "events": ["source.ingested"], **body}, format="json"
    )


def test_create_returns_the_generated_secret_once_and_stores_it_encrypted(tenant_a):
    response = _create(tenant_a, description="CI")

    assert response.status_code == 201
    data = response.json()
    assert data["has_secret"] is True and len(data["secret"]) >= 40
    assert data["tenant_id"] == str(tenant_a.tenant.id)
    assert data["events"] == ["source.ingested"] and data["is_active"] is True
    with tenant_context(tenant_a.tenant):
        stored = Webhook.objects.get(pk=data["id"])
    assert data["secret"] not in stored.encrypted_secret
    assert decrypt_text(stored.encrypted_secret) == data["secret"]
    listed = tenant_a.client().get("/v1/webhooks").json()
    fetched = tenant_a.client().get(f"/v1/webhooks/{data['id']}").json()
    assert all("secret" not in item for item in listed) and "secret" not in fetched


def test_create_keeps_a_given_secret(tenant_a):
    response = _create(tenant_a, secret="s" * 20)

    assert response.status_code == 201 and response.json()["secret"] == "s" * 20


@pytest.mark.parametrize(
    "events, message",
    [([], "At least one event"), (["source.deleted"], "Invalid event type: source.deleted"), ("x", None)],
)
def test_create_rejects_empty_or_unknown_events(tenant_a, events, message):
    response = _create(tenant_a, events=events)

    assert response.status_code == 422
    if message:
        assert message in str(response.json()["detail"])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "not a url",
        "http://127.0.0.1:8000/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_create_refuses_non_http_and_internal_urls(tenant_a, url):
    response = _create(tenant_a, url=url)

    assert response.status_code == 422
    with tenant_context(tenant_a.tenant):
        assert not Webhook.objects.filter(url=url).exists()


def test_link_local_is_refused_even_when_private_networks_are_allowed(tenant_a, allow_private):
    assert _create(tenant_a, url="http://127.0.0.1:9/hook").status_code == 201
    assert _create(tenant_a, url="http://169.254.169.254/latest").status_code == 422


def test_patch_updates_fields_and_applies_the_same_guard(tenant_a):
    webhook_id = _create(tenant_a).json()["id"]
    client = tenant_a.client()

    refused = client.patch(f"/v1/webhooks/{webhook_id}", {"url": "http://192.168.1.10/hook"}, format="json")
    bad_events = client.patch(f"/v1/webhooks/{webhook_id}", {"events": []}, format="json")
    ok = client.patch(
        f"/v1/webhooks/{webhook_id}",
        {"events": ["chat.message", "source.failed"], "description": "new", "is_active": False},
        format="json",
    )

    assert refused.status_code == 422 and bad_events.status_code == 422
    assert ok.status_code == 200
    assert ok.json()["events"] == ["chat.message", "source.failed"]
    assert ok.json()["is_active"] is False and ok.json()["url"] == PUBLIC_URL


def test_delete_is_a_hard_delete(tenant_a):
    webhook_id = _create(tenant_a).json()["id"]

    assert tenant_a.client().delete(f"/v1/webhooks/{webhook_id}").status_code == 204
    assert tenant_a.client().get(f"/v1/webhooks/{webhook_id}").status_code == 404
    with tenant_context(tenant_a.tenant):
        assert not Webhook.objects.filter(pk=webhook_id).exists()


def test_members_read_but_cannot_create_change_or_delete(tenant_a):
    webhook_id = _create(tenant_a).json()["id"]
    member = UserFactory(tenant=tenant_a.tenant, role=Role.MEMBER)
    client = tenant_a.client(api_token_create(user=member, name="m").raw_token)

    assert client.get("/v1/webhooks").status_code == 200
    assert (
        client.post("/v1/webhooks", {"url": PUBLIC_URL, "events": ["chat.message"]}, format="json").status_code == 403
    )
    assert client.patch(f"/v1/webhooks/{webhook_id}", {"is_active": False}, format="json").status_code == 403
    assert client.delete(f"/v1/webhooks/{webhook_id}").status_code == 403
    assert client.post(f"/v1/webhooks/{webhook_id}/test").status_code == 403


def test_requests_without_credentials_are_refused(api_client):
    assert api_client.get("/v1/webhooks").status_code in (401, 403)


def test_webhooks_and_deliveries_of_another_tenant_answer_like_missing_ones(tenant_a, tenant_b):
    webhook_id = _create(tenant_a).json()["id"]
    with tenant_context(tenant_a.tenant):
        WebhookDelivery.objects.create(
            webhook_id=webhook_id, delivery_id="00000000-0000-4000-8000-000000000001", event="chat.message"
        )
    other = tenant_b.client()

    assert other.get(f"/v1/webhooks/{webhook_id}").status_code == 404
    assert other.get(f"/v1/webhooks/{webhook_id}/deliveries").status_code == 404
    assert other.patch(f"/v1/webhooks/{webhook_id}", {"is_active": False}, format="json").status_code == 404
    assert other.post(f"/v1/webhooks/{webhook_id}/test").status_code == 404
    assert other.delete(f"/v1/webhooks/{webhook_id}").status_code == 404
    assert webhook_id not in {item["id"] for item in other.get("/v1/webhooks").json()}
    assert tenant_a.client().get(f"/v1/webhooks/{webhook_id}/deliveries").json()[0]["event"] == "chat.message"


def test_test_endpoint_reports_status_but_never_the_response_body(tenant_a, allow_private):
    with Receiver(statuses=[418], response_body=b"internal-secret-page") as receiver:
        receiver.secret = "k" * 20
        webhook_id = _create(tenant_a, url=receiver.url, secret=receiver.secret).json()["id"]
        # The receiver answers 401 to anything unsigned; a valid signature gets the configured 418.
        response = tenant_a.client().post(f"/v1/webhooks/{webhook_id}/test")

    assert response.status_code == 200
    assert response.json()["success"] is False and response.json()["status_code"] == 418
    assert "internal-secret-page" not in response.content.decode()
    assert receiver.received[0].signature_valid
    assert receiver.received[0].json["event"] == "test.ping"
    assert receiver.received[0].json["webhook_id"] == webhook_id


def test_test_endpoint_succeeds_against_a_2xx_receiver(tenant_a, allow_private):
    with Receiver(secret="k" * 20) as receiver:
        webhook_id = _create(tenant_a, url=receiver.url, secret=receiver.secret).json()["id"]
        response = tenant_a.client().post(f"/v1/webhooks/{webhook_id}/test")

    assert response.json()["success"] is True and response.json()["status_code"] == 200
    deliveries = tenant_a.client().get(f"/v1/webhooks/{webhook_id}/deliveries").json()
    assert deliveries[0]["event"] == "test.ping" and deliveries[0]["success"] is True


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_test_endpoint_is_no_network_oracle(tenant_a, settings, allow_private):
    unreachable = _create(tenant_a, url=f"http://127.0.0.1:{_closed_port()}/hook").json()["id"]
    internal = _create(tenant_a, url="http://127.0.0.1:6333/collections").json()["id"]
    refused_connection = tenant_a.client().post(f"/v1/webhooks/{unreachable}/test").json()
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False  # now the stored internal URL is refused at send time
    refused_by_policy = tenant_a.client().post(f"/v1/webhooks/{internal}/test").json()

    assert (
        refused_by_policy
        == refused_connection
        == {
            "success": False,
            "status_code": None,
            "message": "The endpoint could not be reached",
        }
    )
