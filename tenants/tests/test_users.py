"""/v1/users: role rules, partial PATCH, last-owner protection, tenant isolation."""

import uuid

import pytest

from tenants.models import Role, User
from tenants.services import api_token_create
from tenants.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def _client_for(handle, user):
    return handle.client(api_token_create(user=user, name="t").raw_token)


def test_owner_creates_lists_and_patches_users(tenant_a):
    client = tenant_a.client()
    created = client.post(
        "/v1/users", {"email": "new@a.example", "password": PASSWORD, "display_name": "New", "role": "admin"}
    )
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    assert created.json()["role"] == "admin" and "password" not in created.json()

    listed = client.get("/v1/users").json()
    emails = [u["email"] for u in listed]
    assert emails == sorted(emails) and "new@a.example" in emails

    patched = client.patch(f"/v1/users/{user_id}", {"display_name": "Renamed"})
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Renamed" and patched.json()["role"] == "admin"


def test_duplicate_email_in_tenant_is_409(tenant_a):
    response = tenant_a.client().post("/v1/users", {"email": tenant_a.owner.email.upper(), "password": PASSWORD})
    assert response.status_code == 409


def test_member_cannot_manage_users(tenant_a):
    member = UserFactory(tenant=tenant_a.tenant, role=Role.MEMBER)
    client = _client_for(tenant_a, member)

    assert client.get("/v1/users").status_code == 200
    response = client.post("/v1/users", {"email": "x@a.example", "password": PASSWORD})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only owners and admins can manage users"}
    assert client.patch(f"/v1/users/{member.id}", {"role": "admin"}).status_code == 403
    assert client.delete(f"/v1/users/{tenant_a.owner.id}").status_code == 403


def test_admin_cannot_create_or_promote_owner(tenant_a):
    admin = UserFactory(tenant=tenant_a.tenant, role=Role.ADMIN)
    member = UserFactory(tenant=tenant_a.tenant, role=Role.MEMBER)
    client = _client_for(tenant_a, admin)

    assert client.post("/v1/users", {"email": "o2@a.example", "password": PASSWORD, "role": "owner"}).status_code == 403
    assert client.patch(f"/v1/users/{member.id}", {"role": "owner"}).status_code == 403
    assert client.patch(f"/v1/users/{tenant_a.owner.id}", {"role": "member"}).status_code == 403
    assert client.post("/v1/users", {"email": "m2@a.example", "password": PASSWORD}).status_code == 201


def test_last_active_owner_cannot_be_removed_or_demoted(tenant_a):
    client = tenant_a.client()
    owner_id = tenant_a.owner.id

    assert client.delete(f"/v1/users/{owner_id}").status_code == 409
    assert client.patch(f"/v1/users/{owner_id}", {"role": "admin"}).status_code == 409
    assert client.patch(f"/v1/users/{owner_id}", {"is_active": False}).status_code == 409
    assert User.objects.get(pk=owner_id).is_active

    second = client.post("/v1/users", {"email": "o2@a.example", "password": PASSWORD, "role": "owner"})
    assert second.status_code == 201
    assert client.delete(f"/v1/users/{second.json()['id']}").status_code == 204


def test_patch_validates_and_rejects_weak_password(tenant_a):
    member = UserFactory(tenant=tenant_a.tenant)
    client = tenant_a.client()
    assert client.patch(f"/v1/users/{member.id}", {"role": "king"}).status_code == 422
    assert client.patch(f"/v1/users/{member.id}", {"password": "short"}).status_code == 422
    assert client.patch(f"/v1/users/{member.id}", {"password": "another-long-passphrase"}).status_code == 200


def test_unknown_and_malformed_ids(tenant_a):
    client = tenant_a.client()
    assert client.patch(f"/v1/users/{uuid.uuid4()}", {"display_name": "x"}).json() == {"detail": "User not found"}
    response = client.delete("/v1/users/not-a-uuid")
    assert response.status_code == 404 and response.json() == {"detail": "Not found"}


def test_tenant_b_cannot_read_change_or_remove_tenant_a_users(tenant_a, tenant_b):
    victim = UserFactory(tenant=tenant_a.tenant, email="victim@a.example")
    client_b = tenant_b.client()

    assert "victim@a.example" not in {u["email"] for u in client_b.get("/v1/users").json()}
    assert client_b.get(f"/v1/users/{victim.id}").status_code == 404
    assert client_b.patch(f"/v1/users/{victim.id}", {"display_name": "pwned"}).status_code == 404
    assert client_b.delete(f"/v1/users/{victim.id}").status_code == 404
    victim.refresh_from_db()
    assert victim.is_active and victim.display_name != "pwned"


def test_lists_are_bounded(tenant_a):
    for index in range(5):
        UserFactory(tenant=tenant_a.tenant, email=f"bulk{index}@a.example")
    response = tenant_a.client().get("/v1/users?limit=2&offset=1")
    assert len(response.json()) == 2
    assert int(response["X-Total-Count"]) >= 6
    assert tenant_a.client().get("/v1/users?limit=abc").status_code == 422
    assert tenant_a.client().get("/v1/users?offset=45137722727504884271153152").status_code == 422
