"""POST /v1/bot-profiles/{id}/search: ranked passages from the retrieval chat uses, bounded input, usage counted."""

import uuid

import pytest

from bots.services import bot_create, bot_update
from minirag.tenancy import tenant_context
from sources import services
from sources.models import SourceStatus
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory
from usage.models import UsageEvent, UsageKind

REFUNDS = "Refunds are paid within 5 business days. Contractors are refunded by bank transfer."
PLANS = "Refunds for annual plans are prorated to the day."
HOLIDAYS = "The office is closed on public holidays."
HANDBOOK = "# Handbook\n\n## IT\n\nLost laptops are reported to the IT desk within a day."


def _ingest(bot, name: str, content: str, run_on_commit):
    source = SourceFactory(bot_profile=bot, name=name, content=content)
    run_on_commit(services.source_ingest, source=source)
    source.refresh_from_db()
    assert source.status == SourceStatus.READY, source.error_message
    return source


@pytest.fixture
def knowledge(tenant_a, run_on_commit):
    """A lexical (BM25) bot with four small sources, in tenant A."""
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Search bot", model="extractive")
        sources = {
            name: _ingest(bot, name, content, run_on_commit)
            for name, content in [("Refunds", REFUNDS), ("Plans", PLANS), ("Holidays", HOLIDAYS), ("IT", HANDBOOK)]
        }
    return bot, sources


def _search(client, bot_id, body):
    return client.post(f"/v1/bot-profiles/{bot_id}/search", body, format="json")


def test_search_returns_the_best_passages_first_with_their_fields(tenant_a, knowledge):
    bot, sources = knowledge

    response = _search(tenant_a.client(), bot.id, {"query": "are contractors refunded by bank transfer?"})

    assert response.status_code == 200
    hits = response.json()
    assert [hit["source_name"] for hit in hits] == ["Refunds", "Plans"]  # holidays share no word with it
    assert hits[0]["score"] > hits[1]["score"] > 0
    assert set(hits[0]) == {
        "chunk_id",
        "source_id",
        "source_name",
        "content",
        "score",
        "page",
        "chunk_index",
        "section",
    }
    assert hits[0]["source_id"] == str(sources["Refunds"].id) and hits[0]["content"] == REFUNDS
    assert hits[0]["page"] is None and hits[0]["chunk_index"] == 0
    uuid.UUID(hits[0]["chunk_id"])


def test_search_ranks_exactly_like_the_retrieval_chat_uses(tenant_a, knowledge):
    bot, _ = knowledge
    query = "refunds for annual plans"

    hits = _search(tenant_a.client(), bot.id, {"query": query, "top_k": 3}).json()

    with tenant_context(tenant_a.tenant):
        expected = retrieve(bot=bot, query=query, top_k=3)
    assert [hit["chunk_id"] for hit in hits] == [str(chunk.chunk_id) for chunk in expected]
    assert hits[0]["source_name"] == "Plans"


def test_search_gives_the_heading_path_as_section(tenant_a, knowledge):
    bot, _ = knowledge

    hits = _search(tenant_a.client(), bot.id, {"query": "lost laptop"}).json()

    assert hits[0]["source_name"] == "IT" and "IT" in hits[0]["section"] and "Handbook" in hits[0]["section"]


def test_top_k_caps_the_answer_and_defaults_to_five(tenant_a, run_on_commit):
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Many", model="extractive")
        for number in range(7):
            _ingest(bot, f"Note {number}", f"Note {number}: the harbour crane lifts containers.", run_on_commit)
    client = tenant_a.client()

    assert len(_search(client, bot.id, {"query": "harbour crane"}).json()) == 5
    assert len(_search(client, bot.id, {"query": "harbour crane", "top_k": 2}).json()) == 2
    assert len(_search(client, bot.id, {"query": "harbour crane", "top_k": 50}).json()) == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "refunds", "top_k": 0}, "top_k"),
        ({"query": "refunds", "top_k": 51}, "top_k"),
        ({"query": "refunds", "top_k": "many"}, "top_k"),
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"top_k": 3}, "query"),
        ({"query": "x" * 4001}, "query"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(tenant_a, knowledge, body, field):
    bot, _ = knowledge

    response = _search(tenant_a.client(), bot.id, body)

    assert response.status_code == 422
    assert [item["loc"] for item in response.json()["detail"]] == [["body", field]]


def test_another_tenants_bot_answers_like_an_unknown_one(tenant_a, tenant_b, knowledge):
    bot, _ = knowledge

    foreign = _search(tenant_b.client(), bot.id, {"query": "refunds"})
    unknown = _search(tenant_a.client(), uuid.uuid4(), {"query": "refunds"})
    malformed = tenant_a.client().post("/v1/bot-profiles/not-a-uuid/search", {"query": "refunds"}, format="json")

    assert foreign.status_code == unknown.status_code == malformed.status_code == 404
    assert foreign.json() == unknown.json() == {"detail": "Bot profile not found or inactive"}
    with tenant_context(tenant_b.tenant):
        assert not UsageEvent.objects.filter(kind=UsageKind.SEARCH).exists()


def test_a_deactivated_bot_cannot_be_searched(tenant_a, knowledge):
    bot, _ = knowledge
    with tenant_context(tenant_a.tenant):
        bot_update(bot=bot, changes={"is_active": False})

    assert _search(tenant_a.client(), bot.id, {"query": "refunds"}).status_code == 404


def test_members_can_search(tenant_a, knowledge):
    from tenants.models import Role
    from tenants.services import api_token_create
    from tenants.tests.factories import UserFactory

    bot, _ = knowledge
    member = UserFactory(tenant=tenant_a.tenant, role=Role.MEMBER)
    client = tenant_a.client(api_token_create(user=member, name="search").raw_token)

    assert _search(client, bot.id, {"query": "refunds"}).status_code == 200


def test_each_search_is_a_usage_event_of_the_bot(tenant_a, knowledge):
    bot, _ = knowledge
    client = tenant_a.client()

    _search(client, bot.id, {"query": "refunds"})
    _search(client, bot.id, {"query": "no such words anywhere"})

    with tenant_context(tenant_a.tenant):
        events = list(UsageEvent.objects.filter(kind=UsageKind.SEARCH))
    assert len(events) == 2
    assert {event.bot_profile_id for event in events} == {bot.id}
    assert all(event.total_tokens == 0 and event.cost_usd == 0 for event in events)
    by_model = {row["model"]: row for row in client.get("/v1/stats/usage/by-model").json()}
    assert by_model["search"]["request_count"] == 2
    assert by_model["search"]["prompt_cost_per_1m"] == by_model["search"]["cost_usd"] == 0  # priced as free


def test_a_hybrid_bot_also_records_the_query_embedding(tenant_a, fake_openai, settings, run_on_commit):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    with tenant_context(tenant_a.tenant):
        bot = bot_create(
            name="Hybrid search",
            embedding_model="openai/fake-embed-32",
            credentials={"api_key": "test-key", "api_base": fake_openai.base_url},
        )
        _ingest(bot, "Refunds", REFUNDS, run_on_commit)
        _ingest(bot, "Holidays", HOLIDAYS, run_on_commit)
    embedded_before = len(fake_openai.embedding_calls)

    hits = _search(tenant_a.client(), bot.id, {"query": "contractors refunded", "top_k": 1}).json()

    assert [hit["source_name"] for hit in hits] == ["Refunds"]
    assert len(fake_openai.embedding_calls) == embedded_before + 1
    with tenant_context(tenant_a.tenant):
        kinds = sorted(UsageEvent.objects.filter(bot_profile_id=bot.id).values_list("kind", flat=True))
        embedding = UsageEvent.objects.filter(bot_profile_id=bot.id, kind=UsageKind.EMBEDDING).latest("created_at")
    assert kinds.count(UsageKind.SEARCH) == 1
    assert embedding.prompt_tokens == 2  # the fake counts words: the query's two
