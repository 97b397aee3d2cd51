"""The operator console lists each tenant's sources and bots (no credentials) and acts through services."""

import pytest

from bots.models import BotProfile
from bots.services import bot_create
from minirag.tenancy import tenant_context
from sources.models import Source, SourceStatus
from tenants.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    operator = User.objects.create_superuser(email="ops@example.com", password="operator-password-123")
    client.force_login(operator)
    return client


def test_sources_and_bots_per_tenant_without_credentials(
    operator_client, tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Admin bot A", credentials={"api_key": "sk-admin-secret-999"})
        source = Source.objects.create(
            bot_profile=bot, name="Visible in A", source_type="text", content="Koalas sleep."
        )
    with tenant_context(tenant_b.tenant):
        other = BotProfile.objects.create(name="Admin bot B")
        Source.objects.create(bot_profile=other, name="Only in B", source_type="text", content="x")

    page = operator_client.get("/admin/sources/source/?tenant=tenant-a")
    assert page.status_code == 200
    assert "Visible in A" in page.content.decode() and "Only in B" not in page.content.decode()
    page = operator_client.get("/admin/sources/source/")  # the choice is remembered
    assert "Visible in A" in page.content.decode()

    bots_page = operator_client.get("/admin/bots/botprofile/")
    assert "Admin bot A" in bots_page.content.decode()
    detail = operator_client.get(f"/admin/bots/botprofile/{bot.pk}/change/").content.decode()
    assert "sk-admin-secret-999" not in detail and bot.encrypted_credentials not in detail

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            "/admin/sources/source/", {"action": "reingest", "_selected_action": [str(source.pk)]}
        )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=source.pk).status == SourceStatus.READY

    operator_client.post("/admin/sources/source/", {"action": "deactivate", "_selected_action": [str(source.pk)]})
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=source.pk).is_active is False
    assert operator_client.get("/admin/sources/source/?tenant=tenant-b").status_code == 200
