"""Sign-up control for POST /v1/tenants (SIGNUP_MODE open | invite | closed), invite codes, reserved slugs."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from tenants.models import InviteCode, Tenant
from tenants.services import invite_code_create, tenant_bootstrap

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def _body(slug="signup-co", **extra):
    return {
        "tenant_name": "Signup Co",
        "tenant_slug": slug,
        "owner_email": f"owner@{slug}.example",
        "owner_password": PASSWORD,
        **extra,
    }


def test_open_signup_creates_a_tenant(api_client):
    with override_settings(SIGNUP_MODE="open"):
        response = api_client.post("/v1/tenants", _body(), format="json")
    assert response.status_code == 201, response.content


def test_closed_signup_is_403_whatever_the_body(api_client):
    with override_settings(SIGNUP_MODE="closed"):
        valid = api_client.post("/v1/tenants", _body(), format="json")
        invalid = api_client.post("/v1/tenants", {"tenant_slug": "BAD SLUG"}, format="json")

    assert valid.status_code == 403
    assert valid.json() == {"detail": "Sign-up is closed on this server; ask its operator for an account"}
    assert invalid.status_code == 403
    assert not Tenant.objects.filter(slug="signup-co").exists()


def test_closed_signup_leaves_the_operator_command_working():
    out = StringIO()
    with override_settings(SIGNUP_MODE="closed"):
        call_command(
            "bootstrap_tenant",
            name="Ops",
            slug="ops-made",
            owner_email="o@ops.example",
            owner_password=PASSWORD,
            stdout=out,
        )
    assert Tenant.objects.filter(slug="ops-made").exists()


def test_invite_mode_needs_a_code(api_client):
    with override_settings(SIGNUP_MODE="invite"):
        missing = api_client.post("/v1/tenants", _body(), format="json")
        unknown = api_client.post("/v1/tenants", _body(invite_code="inv_made-up"), format="json")

    assert missing.status_code == 403
    assert missing.json() == {"detail": "Sign-up on this server needs an invite code (invite_code)"}
    assert unknown.status_code == 403
    assert unknown.json() == {"detail": "Invite code is invalid, expired or used up"}
    assert not Tenant.objects.filter(slug="signup-co").exists()


def test_a_single_use_code_signs_up_one_tenant(api_client):
    issued = invite_code_create(max_uses=1)
    with override_settings(SIGNUP_MODE="invite"):
        first = api_client.post("/v1/tenants", _body(invite_code=issued.raw_code), format="json")
        second = api_client.post("/v1/tenants", _body("second-co", invite_code=issued.raw_code), format="json")

    assert first.status_code == 201, first.content
    assert second.status_code == 403
    invite = InviteCode.objects.get(pk=issued.invite.pk)
    assert invite.use_count == 1 and invite.last_used_at is not None


def test_a_limited_code_serves_its_uses(api_client):
    issued = invite_code_create(max_uses=2)
    with override_settings(SIGNUP_MODE="invite"):
        statuses = [
            api_client.post("/v1/tenants", _body(f"multi-{i}", invite_code=issued.raw_code), format="json").status_code
            for i in range(3)
        ]
    assert statuses == [201, 201, 403]


def test_a_failed_signup_does_not_spend_the_code(api_client, tenant_a):
    issued = invite_code_create(max_uses=1)
    with override_settings(SIGNUP_MODE="invite"):
        taken = api_client.post("/v1/tenants", _body("tenant-a", invite_code=issued.raw_code), format="json")
        weak = api_client.post(
            "/v1/tenants", _body("weak-co", invite_code=issued.raw_code, owner_password="password"), format="json"
        )
    assert taken.status_code == 409
    assert weak.status_code == 422
    assert InviteCode.objects.get(pk=issued.invite.pk).use_count == 0


def test_expired_and_revoked_codes_are_refused(api_client):
    expired = invite_code_create(expires_at=timezone.now() - timedelta(minutes=1))
    revoked = invite_code_create()
    call_command("invite_code", "revoke", revoked.invite.code_prefix, stdout=StringIO())
    with override_settings(SIGNUP_MODE="invite"):
        for code in (expired.raw_code, revoked.raw_code):
            response = api_client.post("/v1/tenants", _body(invite_code=code), format="json")
            assert response.status_code == 403
            assert response.json()["detail"] == "Invite code is invalid, expired or used up"


def test_codes_are_stored_hashed():
    issued = invite_code_create()
    row = InviteCode.objects.get(pk=issued.invite.pk)
    assert issued.raw_code.startswith("inv_") and len(issued.raw_code) >= 24
    assert issued.raw_code not in (row.code_hash, row.code_prefix) and len(row.code_hash) == 64
    assert issued.raw_code.startswith(row.code_prefix)


def test_invite_code_command_creates_lists_and_revokes(api_client):
    out = StringIO()
    call_command("invite_code", "create", "--uses", "3", "--expires-days", "2", "--note", "for acme", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    invite = InviteCode.objects.get(code_prefix=raw[:10])
    assert invite.max_uses == 3 and invite.note == "for acme"
    assert timedelta(days=1.9) < invite.expires_at - timezone.now() <= timedelta(days=2)

    listing = StringIO()
    call_command("invite_code", "list", stdout=listing)
    assert f"{invite.code_prefix}…  0/3 used" in listing.getvalue() and raw not in listing.getvalue()

    call_command("invite_code", "revoke", str(invite.pk), stdout=StringIO())
    assert not InviteCode.objects.get(pk=invite.pk).is_active
    with pytest.raises(CommandError):
        call_command("invite_code", "revoke", "inv_nothing", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("invite_code", "create", "--uses", "0", stdout=StringIO())


@pytest.mark.parametrize("slug", ["public", "admin", "www", "api", "static", "media", "app", "mail"])
def test_reserved_slugs_are_refused_with_422(api_client, slug):
    response = api_client.post("/v1/tenants", _body(slug), format="json")

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "tenant_slug"],
            "msg": f"The slug '{slug}' is reserved; choose another",
            "type": "value_error.slug_reserved",
        }
    ]
    assert not Tenant.objects.filter(slug=slug).exists()


def test_reserved_slugs_are_refused_to_operators_too():
    from minirag.errors import InvalidInput

    with pytest.raises(InvalidInput):
        tenant_bootstrap(name="x", slug="admin", owner_email="o@x.example", owner_password=PASSWORD)


def test_extra_reserved_slugs_come_from_settings(api_client):
    from django.conf import settings

    with override_settings(RESERVED_SLUGS=settings.RESERVED_SLUGS | {"acme-internal"}):
        response = api_client.post("/v1/tenants", _body("acme-internal"), format="json")
    assert response.status_code == 422


def test_console_issues_an_invite_code_once(operator):
    admin_client = operator
    response = admin_client.post(
        "/admin/tenants/invitecode/add/", {"note": "console", "max_uses": "2", "expires_at_0": "", "expires_at_1": ""}
    )
    assert response.status_code == 302, response.content[:2000]
    invite = InviteCode.objects.get(note="console")
    assert invite.max_uses == 2 and invite.is_usable

    page = admin_client.get(response["Location"])
    shown = [str(message) for message in page.context["messages"]]
    assert any(message.startswith(f"Invite code (shown once, copy it now): {invite.code_prefix}") for message in shown)
    changelist = admin_client.get("/admin/tenants/invitecode/").content.decode()
    assert invite.code_prefix in changelist
