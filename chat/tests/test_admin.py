"""Chats, messages and usage events in the operator console, shown in the chosen tenant's schema."""

import pytest

from chat.models import Chat, Message
from minirag.tenancy import tenant_context
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db


def test_chat_message_and_usage_pages_render_per_tenant(operator, tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        chat = Chat.objects.create(bot_profile_id="00000000-0000-0000-0000-000000000001", title="Where is Blipton?")
        Message.objects.create(chat=chat, role="assistant", content="Blipton is in Quaxland.")
        UsageEvent.objects.create(model="acme-model-in-a", prompt_tokens=1, total_tokens=1)

    chats = operator.get(f"/admin/chat/chat/?tenant={tenant_a.tenant.slug}")
    messages = operator.get("/admin/chat/message/")
    usage = operator.get("/admin/usage/usageevent/")
    other = operator.get(f"/admin/chat/chat/?tenant={tenant_b.tenant.slug}")

    assert chats.status_code == messages.status_code == usage.status_code == 200
    assert "Where is Blipton?" in chats.content.decode()
    assert "Blipton is in Quaxland." in messages.content.decode()
    assert "acme-model-in-a" in usage.content.decode()
    assert "Where is Blipton?" not in other.content.decode()
    assert operator.get(f"/admin/chat/chat/{chat.pk}/change/?tenant={tenant_a.tenant.slug}").status_code == 200
