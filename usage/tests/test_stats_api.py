"""`/v1/stats`: numbers on known data, `days` validation, soft-deleted rows, pricing, tenant isolation."""

import datetime as dt
from decimal import Decimal

import litellm
import pytest
from django.utils import timezone

from bots.models import BotProfile
from chat.models import MessageRole
from chat.tests.factories import BotFactory, ChatFactory, MessageFactory
from minirag.tenancy import tenant_context
from sources.models import Source, SourceType
from usage.models import UsageEvent, UsageKind
from usage.services import usage_record
from usage.tests.factories import UsageEventFactory

NOW = timezone.now()


def _ago(days: int) -> dt.datetime:
    # Whole days from one instant, so "today" and "yesterday" stay different dates at any time of day (an hour
    # earlier than now was yesterday in the first hour after midnight, and the two days merged).
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def known_usage(tenant_a):
    """Two bots, two models, three days of usage (one event outside a 7-day window)."""
    with tenant_context(tenant_a.tenant):
        alpha = BotFactory(name="Alpha")
        beta = BotFactory(name="Beta")
        UsageEventFactory(
            bot_profile_id=alpha.id,
            model="gpt-4o-mini",
            prompt_tokens=1000,
            completion_tokens=500,
            cost_usd=Decimal("0.001"),
            created_at=_ago(0),
        )
        UsageEventFactory(
            bot_profile_id=alpha.id,
            model="gpt-4o-mini",
            prompt_tokens=3000,
            completion_tokens=500,
            cost_usd=Decimal("0.002"),
            created_at=_ago(1),
        )
        UsageEventFactory(
            bot_profile_id=beta.id,
            model="my-local-model",
            prompt_tokens=200,
            completion_tokens=100,
            cost_usd=Decimal("0.0005"),
            created_at=_ago(1),
        )
        UsageEventFactory(
            bot_profile_id=beta.id,
            model="my-local-model",
            prompt_tokens=10,
            completion_tokens=10,
            cost_usd=Decimal("1.0"),
            created_at=_ago(30),
        )
    return {"alpha": alpha, "beta": beta}


def test_usage_record_prices_from_litellm_cost_map(in_tenant):
    event = usage_record(model="gpt-4o-mini", prompt_tokens=1_000_000, completion_tokens=1_000_000)

    entry = litellm.model_cost["gpt-4o-mini"]
    expected = (
        Decimal(str(entry["input_cost_per_token"])) * 1_000_000
        + Decimal(str(entry["output_cost_per_token"])) * 1_000_000
    )
    assert event.cost_usd == expected and event.total_tokens == 2_000_000


def test_unknown_model_uses_default_row_and_extractive_is_free(in_tenant):
    unknown = usage_record(model="acme/unknown-model", prompt_tokens=1_000_000, completion_tokens=1_000_000)
    extractive = usage_record(model="extractive", prompt_tokens=1_000_000, completion_tokens=1_000_000)

    assert unknown.cost_usd == Decimal("4")  # 1.0 + 3.0 per 1M
    assert extractive.cost_usd == 0


def test_usage_daily_groups_by_date_and_model_newest_first(tenant_a, known_usage):
    response = tenant_a.client().get("/v1/stats/usage", {"days": 7})

    assert response.status_code == 200
    rows = response.json()
    assert [(r["date"], r["model"], r["total_tokens"], r["request_count"]) for r in rows] == [
        (_ago(0).date().isoformat(), "gpt-4o-mini", 1500, 1),
        (_ago(1).date().isoformat(), "gpt-4o-mini", 3500, 1),
        (_ago(1).date().isoformat(), "my-local-model", 300, 1),
    ]


def test_usage_without_days_is_all_time(tenant_a, known_usage):
    rows = tenant_a.client().get("/v1/stats/usage").json()

    assert sum(r["request_count"] for r in rows) == 4


def test_usage_by_bot_names_bots_and_sums_cost(tenant_a, known_usage):
    rows = tenant_a.client().get("/v1/stats/usage/by-bot", {"days": 7}).json()

    assert rows == [
        {
            "bot_profile_id": str(known_usage["alpha"].id),
            "bot_name": "Alpha",
            "model": "gpt-4o-mini",
            "prompt_tokens": 4000,
            "completion_tokens": 1000,
            "total_tokens": 5000,
            "request_count": 2,
            "cost_usd": 0.003,
        },
        {
            "bot_profile_id": str(known_usage["beta"].id),
            "bot_name": "Beta",
            "model": "my-local-model",
            "prompt_tokens": 200,
            "completion_tokens": 100,
            "total_tokens": 300,
            "request_count": 1,
            "cost_usd": 0.0005,
        },
    ]


def test_usage_by_model_includes_current_prices(tenant_a, known_usage):
    rows = {r["model"]: r for r in tenant_a.client().get("/v1/stats/usage/by-model").json()}

    assert rows["my-local-model"]["prompt_cost_per_1m"] == 1.0  # default row
    assert rows["my-local-model"]["completion_cost_per_1m"] == 3.0
    assert rows["my-local-model"]["request_count"] == 2 and rows["my-local-model"]["cost_usd"] == 1.0005
    assert rows["gpt-4o-mini"]["prompt_cost_per_1m"] == pytest.approx(
        litellm.model_cost["gpt-4o-mini"]["input_cost_per_token"] * 1e6
    )


def test_cost_estimate_averages_over_active_days(tenant_a, known_usage):
    body = tenant_a.client().get("/v1/stats/cost-estimate", {"days": 7}).json()

    assert body["total_cost_usd"] == 0.0035
    assert body["active_days"] == 2
    assert body["daily_avg_cost_usd"] == 0.00175
    assert body["projected_monthly_usd"] == 0.05  # 0.0525 rounded to 2 dp
    assert {r["model"] for r in body["by_model"]} == {"gpt-4o-mini", "my-local-model"}
    assert len(body["by_bot"]) == 2


def test_cost_estimate_defaults_to_30_days(tenant_a, known_usage):
    body = tenant_a.client().get("/v1/stats/cost-estimate").json()

    # The event 30 days ago (minus a moment) is just outside the default window.
    assert body["total_cost_usd"] == 0.0035


@pytest.mark.parametrize("days", ["0", "-1", "3651", "abc", "1.5"])
@pytest.mark.parametrize(
    "path",
    [
        "/v1/stats/usage",
        "/v1/stats/usage/by-bot",
        "/v1/stats/usage/by-model",
        "/v1/stats/cost-estimate",
        "/v1/stats/feedback",
        "/v1/stats/feedback/trend",
    ],
)
def test_days_outside_1_to_3650_is_422(tenant_a, path, days):
    response = tenant_a.client().get(path, {"days": days})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "days"


@pytest.mark.parametrize("days", [1, 3650])
def test_days_bounds_are_accepted(tenant_a, days):
    assert tenant_a.client().get("/v1/stats/cost-estimate", {"days": days}).status_code == 200


def test_overview_excludes_soft_deleted_bots_and_sources(tenant_a):
    with tenant_context(tenant_a.tenant):
        live = BotFactory()
        BotFactory(is_active=False)
        Source.objects.create(bot_profile=live, name="kept", source_type=SourceType.TEXT, content="x")
        Source.objects.create(
            bot_profile=live, name="deleted", source_type=SourceType.TEXT, content="x", is_active=False
        )
        ChatFactory(bot_profile_id=live.id)
        UsageEventFactory(prompt_tokens=7, completion_tokens=3)
        UsageEventFactory(kind=UsageKind.EMBEDDING, prompt_tokens=5, completion_tokens=0)

    body = tenant_a.client().get("/v1/stats/overview").json()

    assert body == {
        "bot_profiles": 1,
        "sources": 1,
        "chats": 1,
        "total_prompt_tokens": 12,
        "total_completion_tokens": 3,
        "total_tokens": 15,
    }


def test_pricing_comes_from_the_cost_map_with_a_default_row(tenant_a):
    body = tenant_a.client().get("/v1/stats/pricing").json()

    assert body["default"] == {"prompt_cost_per_1m": 1.0, "completion_cost_per_1m": 3.0}
    assert "gpt-4o-mini" in body["models"] and "text-embedding-3-small" in body["models"]
    assert len(body["models"]) > 100
    assert body["models"]["gpt-4o-mini"]["completion_cost_per_1m"] == pytest.approx(
        litellm.model_cost["gpt-4o-mini"]["output_cost_per_token"] * 1e6
    )


def test_pricing_requires_authentication(api_client):
    assert api_client.get("/v1/stats/pricing").status_code == 401


@pytest.fixture
def feedback_data(tenant_a):
    with tenant_context(tenant_a.tenant):
        alpha, beta = BotFactory(name="Alpha"), BotFactory(name="Beta")
        chat_a, chat_b = ChatFactory(bot_profile_id=alpha.id), ChatFactory(bot_profile_id=beta.id)
        assistant = MessageRole.ASSISTANT
        MessageFactory(chat=chat_a, role=assistant, feedback="positive", created_at=_ago(0))
        MessageFactory(chat=chat_a, role=assistant, feedback="negative", created_at=_ago(0))
        MessageFactory(chat=chat_a, role=assistant, feedback=None, created_at=_ago(2))
        MessageFactory(chat=chat_b, role=assistant, feedback="positive", created_at=_ago(2))
        MessageFactory(chat=chat_b, role=MessageRole.USER, created_at=_ago(2))  # never counted
        MessageFactory(chat=chat_b, role=assistant, feedback="positive", created_at=_ago(60))  # outside 30 days
    return {"alpha": alpha, "beta": beta}


def test_feedback_summary_counts_assistant_messages(tenant_a, feedback_data):
    body = tenant_a.client().get("/v1/stats/feedback").json()

    assert body["total_messages"] == 4
    assert body["total_with_feedback"] == 3
    assert (body["positive_count"], body["negative_count"]) == (2, 1)
    assert body["feedback_rate"] == 75.0
    by_bot = {row["bot_name"]: row for row in body["by_bot"]}
    assert by_bot["Alpha"]["total_messages"] == 3 and by_bot["Alpha"]["feedback_rate"] == 66.67
    assert by_bot["Beta"]["positive_count"] == 1 and by_bot["Beta"]["feedback_rate"] == 100.0


def test_feedback_filters_by_bot(tenant_a, feedback_data):
    body = tenant_a.client().get("/v1/stats/feedback", {"bot_profile_id": str(feedback_data["beta"].id)}).json()

    assert body["total_messages"] == 1 and [row["bot_name"] for row in body["by_bot"]] == ["Beta"]


def test_feedback_trend_oldest_first(tenant_a, feedback_data):
    rows = tenant_a.client().get("/v1/stats/feedback/trend", {"days": 7}).json()

    assert rows == [
        {"date": _ago(2).date().isoformat(), "positive_count": 1, "negative_count": 0, "total_messages": 2},
        {"date": _ago(0).date().isoformat(), "positive_count": 1, "negative_count": 1, "total_messages": 2},
    ]


def test_stats_of_tenant_a_are_invisible_to_tenant_b(tenant_a, tenant_b, known_usage, feedback_data):
    client = tenant_b.client()

    assert client.get("/v1/stats/usage").json() == []
    assert client.get("/v1/stats/usage/by-bot").json() == []
    assert client.get("/v1/stats/feedback").json()["total_messages"] == 0
    overview = client.get("/v1/stats/overview").json()
    assert overview["bot_profiles"] == 0 and overview["total_tokens"] == 0
    with tenant_context(tenant_b.tenant):
        assert not UsageEvent.objects.exists() and not BotProfile.objects.exists()
