"""/v1/api-tokens follows the user rules: a user manages their own tokens, owners every token, admins their
own and every non-owner's (never an owner's), members only their own. Tokens outside those rules are neither
listed nor revocable (404, like another tenant's)."""

import pytest

from tenants.models import ApiToken, Role
from tenants.services import api_token_create
from tenants.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(tenant_a):
    """tenant A's owner plus an admin, a second admin and a member, each holding a token."""
    admin = UserFactory(tenant=tenant_a.tenant, email="admin@a.example", role=Role.ADMIN)
    admin2 = UserFactory(tenant=tenant_a.tenant, email="admin2@a.example", role=Role.ADMIN)
    member = UserFactory(tenant=tenant_a.tenant, email="member@a.example", role=Role.MEMBER)
    member2 = UserFactory(tenant=tenant_a.tenant, email="member2@a.example", role=Role.MEMBER)
    issued = {
        "owner": api_token_create(user=tenant_a.owner, name="owner-extra"),
        "admin": api_token_create(user=admin, name="admin"),
        "admin2": api_token_create(user=admin2, name="admin2"),
        "member": api_token_create(user=member, name="member"),
        "member2": api_token_create(user=member2, name="member2"),
    }
    return tenant_a, issued


def _listed_ids(client) -> set[str]:
    response = client.get("/v1/api-tokens")
    assert response.status_code == 200
    return {token["id"] for token in response.json()}


def _ids(issued, *names) -> set[str]:
    return {str(issued[name].token.id) for name in names}


def test_member_cannot_revoke_the_owners_token(team):
    # Given a member's credential and the owner's default token
    handle, issued = team
    member = handle.client(issued["member"].raw_token)

    # When the member tries to revoke the owner's token
    response = member.delete(f"/v1/api-tokens/{handle.token.id}")

    # Then it is refused as unknown and the owner's token keeps working
    assert response.status_code == 404
    assert response.json() == {"detail": "Token not found"}
    assert ApiToken.objects.get(pk=handle.token.pk).is_active
    assert handle.client().get("/v1/tenants/me").status_code == 200


def test_admin_cannot_revoke_an_owners_token(team):
    handle, issued = team
    admin = handle.client(issued["admin"].raw_token)

    assert admin.delete(f"/v1/api-tokens/{handle.token.id}").status_code == 404
    assert admin.delete(f"/v1/api-tokens/{issued['owner'].token.id}").status_code == 404
    assert ApiToken.objects.filter(user=handle.owner, is_active=True).count() == 2


def test_admin_revokes_members_and_other_admins_tokens(team):
    handle, issued = team
    admin = handle.client(issued["admin"].raw_token)

    assert admin.delete(f"/v1/api-tokens/{issued['member'].token.id}").status_code == 204
    assert admin.delete(f"/v1/api-tokens/{issued['admin2'].token.id}").status_code == 204
    assert handle.client(issued["member"].raw_token).get("/v1/tenants/me").status_code == 401


def test_member_revokes_only_their_own_token(team):
    handle, issued = team
    member = handle.client(issued["member"].raw_token)

    assert member.delete(f"/v1/api-tokens/{issued['member2'].token.id}").status_code == 404
    assert member.delete(f"/v1/api-tokens/{issued['admin'].token.id}").status_code == 404
    assert ApiToken.objects.get(pk=issued["member2"].token.pk).is_active

    assert member.delete(f"/v1/api-tokens/{issued['member'].token.id}").status_code == 204
    assert member.get("/v1/tenants/me").status_code == 401


def test_owner_revokes_any_token_of_the_tenant(team):
    handle, issued = team
    owner = handle.client()

    for name in ("admin", "member", "owner"):
        assert owner.delete(f"/v1/api-tokens/{issued[name].token.id}").status_code == 204
    assert not ApiToken.objects.filter(
        pk__in=[issued[n].token.pk for n in ("admin", "member", "owner")], is_active=True
    )


def test_each_role_lists_only_the_tokens_it_manages(team):
    handle, issued = team
    everyone = _ids(issued, "owner", "admin", "admin2", "member", "member2") | {str(handle.token.id)}

    assert _listed_ids(handle.client()) >= everyone
    assert _listed_ids(handle.client(issued["admin"].raw_token)) == _ids(issued, "admin", "admin2", "member", "member2")
    assert _listed_ids(handle.client(issued["member"].raw_token)) == _ids(issued, "member")


def test_demoted_owner_tokens_become_manageable_by_admins(team):
    # The rule reads the token holder's current role, like the user rules.
    handle, issued = team
    second_owner = UserFactory(tenant=handle.tenant, email="owner2@a.example", role=Role.OWNER)
    token = api_token_create(user=second_owner, name="o2")
    admin = handle.client(issued["admin"].raw_token)
    assert str(token.token.id) not in _listed_ids(admin)

    second_owner.role = Role.MEMBER
    second_owner.save()

    assert admin.delete(f"/v1/api-tokens/{token.token.id}").status_code == 204


def test_revoke_service_refuses_a_token_above_the_actor(team):
    from minirag.errors import PermissionDenied
    from tenants.services import api_token_revoke

    handle, issued = team
    member = issued["member"].token.user
    with pytest.raises(PermissionDenied):
        api_token_revoke(token=handle.token, actor=member)
    assert ApiToken.objects.get(pk=handle.token.pk).is_active
