"""Login, JWT, refresh and API tokens; every credential is re-checked on every request."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tenants.models import ApiToken, Role
from tenants.services import api_token_create, tenant_bootstrap, tenant_set_active
from tenants.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _login(email, password=PASSWORD, **extra):
    return APIClient().post("/v1/auth/login", {"email": email, "password": password, **extra}, format="json")


def test_login_returns_jwt_pair_user_and_tenant(tenant_a):
    response = _login(tenant_a.owner.email)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].count(".") == 2 and body["refresh_token"]
    assert body["user"]["email"] == tenant_a.owner.email and body["user"]["role"] == "owner"
    assert set(body["user"]) == {"id", "tenant_id", "email", "display_name", "role", "is_active"}
    assert body["tenant"]["slug"] == "tenant-a"
    claims = AccessToken(body["access_token"])
    assert claims["sub"] == str(tenant_a.owner.id) and claims["tid"] == str(tenant_a.tenant.id)

    me = _bearer(body["access_token"]).get("/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == str(tenant_a.owner.id) and me.json()["tenant"]["slug"] == "tenant-a"


def test_wrong_password_and_unknown_email_are_401(tenant_a):
    for response in (_login(tenant_a.owner.email, "wrong-password-123"), _login("nobody@nowhere.example")):
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid email or password"}


def test_refresh_issues_new_access_token_and_rechecks_user(tenant_a):
    user = UserFactory(tenant=tenant_a.tenant, email="refresh@a.example")
    refresh = _login(user.email).json()["refresh_token"]

    response = APIClient().post("/v1/auth/refresh", {"refresh_token": refresh}, format="json")
    assert response.status_code == 200
    assert _bearer(response.json()["access_token"]).get("/v1/auth/me").status_code == 200

    user.is_active = False
    user.save()
    assert APIClient().post("/v1/auth/refresh", {"refresh_token": refresh}, format="json").status_code == 401
    assert APIClient().post("/v1/auth/refresh", {"refresh_token": "garbage"}, format="json").status_code == 401


def test_missing_credentials_are_401(api_client, tenant_a):
    response = api_client.get("/v1/tenants/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert _bearer("").get("/v1/tenants/me").status_code == 401


def test_unknown_api_token_is_401():
    response = _bearer("mrag_definitely-not-a-token").get("/v1/tenants/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API token"}


def test_revoked_token_fails_on_next_request(tenant_a):
    issued = api_token_create(user=tenant_a.owner, name="temp")
    client = _bearer(issued.raw_token)
    assert client.get("/v1/tenants/me").status_code == 200

    assert tenant_a.client().delete(f"/v1/api-tokens/{issued.token.id}").status_code == 204
    assert tenant_a.client().delete(f"/v1/api-tokens/{issued.token.id}").status_code == 204  # idempotent

    assert client.get("/v1/tenants/me").status_code == 401


def test_deactivated_user_loses_tokens_and_jwts(tenant_a):
    user = UserFactory(tenant=tenant_a.tenant, email="leaver@a.example", role=Role.MEMBER)
    token = api_token_create(user=user, name="t").raw_token
    jwt = _login(user.email).json()["access_token"]
    assert _bearer(token).get("/v1/auth/me").status_code == 200
    assert _bearer(jwt).get("/v1/auth/me").status_code == 200

    assert tenant_a.client().delete(f"/v1/users/{user.id}").status_code == 204

    assert _bearer(token).get("/v1/auth/me").status_code == 401
    assert _bearer(jwt).get("/v1/auth/me").status_code == 401
    assert _login(user.email).status_code == 403


def test_deactivated_tenant_stops_every_credential(tenant_b):
    result = tenant_bootstrap(name="Gone", slug="gone", owner_email="o@gone.example", owner_password=PASSWORD)
    jwt = _login("o@gone.example").json()["access_token"]
    tenant_set_active(tenant=result.tenant, is_active=False)

    assert _bearer(result.api_token.raw_token).get("/v1/tenants/me").status_code == 401
    assert _bearer(jwt).get("/v1/tenants/me").status_code == 401
    assert _login("o@gone.example").json() == {"detail": "Tenant is disabled"}


def test_forged_and_expired_jwts_are_401(tenant_a):
    forged = AccessToken.for_user(tenant_a.owner)
    forged["tid"] = str(tenant_a.tenant.id)
    from rest_framework_simplejwt.backends import TokenBackend

    payload = dict(forged.payload)
    wrong_key = TokenBackend("HS256", signing_key="attacker-key-" + "z" * 40).encode(payload)
    assert _bearer(wrong_key).get("/v1/auth/me").json() == {"detail": "Invalid or expired JWT"}

    expired = AccessToken.for_user(tenant_a.owner)
    expired["tid"] = str(tenant_a.tenant.id)
    expired.set_exp(from_time=timezone.now() - timedelta(hours=2), lifetime=timedelta(minutes=1))
    assert _bearer(str(expired)).get("/v1/auth/me").status_code == 401

    no_tenant = AccessToken.for_user(tenant_a.owner)
    assert _bearer(str(no_tenant)).get("/v1/auth/me").json() == {"detail": "Malformed JWT payload"}


def test_jwt_claims_cannot_switch_tenant(tenant_a, tenant_b):
    token = AccessToken.for_user(tenant_a.owner)
    token["tid"] = str(tenant_b.tenant.id)  # a validly signed token whose claims disagree with the DB
    assert _bearer(str(token)).get("/v1/tenants/me").status_code == 401


def test_jwt_role_comes_from_the_database(tenant_a):
    member = UserFactory(tenant=tenant_a.tenant, email="m@a.example", role=Role.MEMBER)
    token = AccessToken.for_user(member)
    token["tid"] = str(tenant_a.tenant.id)
    token["role"] = "owner"
    response = _bearer(str(token)).post("/v1/users", {"email": "x@a.example", "password": PASSWORD}, format="json")
    assert response.status_code == 403


def test_same_email_in_two_tenants_needs_tenant_slug(tenant_a, tenant_b):
    UserFactory(tenant=tenant_a.tenant, email="shared@example.com")
    UserFactory(tenant=tenant_b.tenant, email="shared@example.com")

    ambiguous = _login("shared@example.com")
    assert ambiguous.status_code == 400
    assert "tenant_slug" in ambiguous.json()["detail"]

    response = _login("shared@example.com", tenant_slug="tenant-b")
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == "tenant-b"


def test_api_token_lifecycle(tenant_a):
    client = tenant_a.client()
    created = client.post("/v1/api-tokens", {"name": "ci"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["raw_token"].startswith("mrag_") and body["token_prefix"] == body["raw_token"][:12]
    assert body["expires_at"] is None and body["last_used_at"] is None

    listed = client.get("/v1/api-tokens").json()
    assert listed[0]["name"] == "ci"  # newest first
    assert all("raw_token" not in t and "token_hash" not in t for t in listed)

    assert _bearer(body["raw_token"]).get("/v1/tenants/me").status_code == 200
    assert client.post("/v1/api-tokens", {}, format="json").status_code == 422


def test_last_used_at_written_at_most_once_a_minute(tenant_a, django_assert_num_queries):
    issued = api_token_create(user=tenant_a.owner, name="touch")
    client = _bearer(issued.raw_token)
    client.get("/v1/auth/me")
    first = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert first is not None

    with django_assert_num_queries(1):  # the token lookup only: no write within the interval
        client.get("/v1/auth/me")
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first

    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/v1/auth/me")
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > first


def test_tenant_b_cannot_see_or_revoke_tenant_a_tokens(tenant_a, tenant_b):
    issued = api_token_create(user=tenant_a.owner, name="secret-a")

    listed = tenant_b.client().get("/v1/api-tokens").json()
    assert str(issued.token.id) not in {t["id"] for t in listed}
    assert tenant_b.client().delete(f"/v1/api-tokens/{issued.token.id}").status_code == 404
    assert _bearer(issued.raw_token).get("/v1/tenants/me").status_code == 200
