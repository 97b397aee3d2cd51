"""GET /v1/system/health/detailed: the caller's own counts, nothing global, no connection strings."""

import pytest
from django.test import override_settings

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources.models import Source
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db


def _seed(tenant, *, sources: int, status: str = "ready", tokens: int = 0) -> BotProfile:
    with tenant_context(tenant):
        bot = BotProfile.objects.create(name=f"bot of {tenant.slug}")
        for index in range(sources):
            Source.objects.create(bot_profile=bot, name=f"s{index}", source_type="text", status=status, chunk_count=4)
        Source.objects.create(bot_profile=bot, name="deleted", source_type="text", status="ready", is_active=False)
        if tokens:
            UsageEvent.objects.create(
                model="gpt-4o-mini", prompt_tokens=tokens, completion_tokens=1, total_tokens=tokens + 1
            )
    return bot


def test_detailed_health_needs_a_credential(api_client):
    assert api_client.get("/v1/system/health/detailed").status_code in (401, 403)


@override_settings(
    CELERY_BROKER_URL="redis://:hunter2-secret@127.0.0.1:1/0",
    QDRANT_API_KEY="qdrant-key-secret",
    HEALTH_CHECK_TIMEOUT_SECONDS=0.5,
)
def test_detailed_health_counts_only_the_callers_tenant(tenant_a, tenant_b, django_assert_max_num_queries):
    bot_a = _seed(tenant_a.tenant, sources=2, tokens=100)
    _seed(tenant_b.tenant, sources=5, status="error", tokens=7000)

    with django_assert_max_num_queries(15):
        response = tenant_a.client().get("/v1/system/health/detailed")

    assert response.status_code == 200
    body = response.json()
    assert body["db_stats"]["sources_by_status"] == {"ready": 2}
    assert body["db_stats"]["total_prompt_tokens"] == 100
    assert body["db_stats"]["total_usage_events"] == 1
    assert body["bot_sources"] == [
        {
            "bot_profile_id": str(bot_a.id),
            "bot_name": "bot of tenant-a",
            "model": bot_a.model,
            "is_active": True,
            "source_count": 2,
            "ready_sources": 2,
            "total_chunks": 8,
        }
    ]
    assert "qdrant_stats" not in body and "redis_stats" not in body
    text = response.content.decode()
    for secret in ("hunter2", "qdrant-key-secret", "postgres://", "redis://", "127.0.0.1"):
        assert secret not in text
    assert body["redis"]["status"] == "error" and body["status"] == "degraded"
