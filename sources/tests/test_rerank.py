"""Reranking through LiteLLM's rerank API against the fake server's Cohere-compatible endpoint (real HTTP).

The fake scores a passage by the share of the question's distinct words it contains, so a passage BM25 ranks
below another (it holds the question's common words, the other its one rare word) is lifted above it.
"""

import logging
import time

import pytest

from bots.services import bot_create, bot_credentials, bot_update
from minirag.integrations import rerank
from minirag.tests.fake_openai import overlap_score
from minirag.tokenizer import count_tokens
from sources import services
from sources.models import SourceStatus
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory
from usage.models import UsageEvent

QUERY = "where is the zeppelin meeting room for the team"
RARE = "Zeppelin zeppelin zeppelin."  # one rare word of the question, three times
ANSWER = "The meeting room for the team is on the second floor."  # most of the question's (common) words
FILLER = [
    "Team photos are on the wall.",
    "Meeting minutes are shared on Fridays.",
    "Room keys are at reception.",
    "The team lunch is in the canteen.",
    "Every meeting starts on time.",
    "The room has a projector.",
]


@pytest.fixture
def knowledge(in_tenant, fake_openai, settings, django_capture_on_commit_callbacks):
    """A sparse bot whose knowledge BM25 ranks in one order and the word-overlap reranker in another."""
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    bot = bot_create(
        name="Reranked",
        retrieval_top_k=3,
        credentials={"rerank_api_key": "rerank-key", "rerank_api_base": fake_openai.base_url},
    )
    for text in [RARE, ANSWER, *FILLER]:
        source = SourceFactory(bot_profile=bot, content=text)
        with django_capture_on_commit_callbacks(execute=True):
            services.source_ingest(source=source)
        source.refresh_from_db()
        assert source.status == SourceStatus.READY, source.error_message
    return bot


def _with_reranker(bot, model="cohere/rerank-v3.5"):
    return bot_update(bot=bot, changes={"rerank_model": model})


def test_reranker_reorders_the_fused_candidates_and_its_scores_are_kept(knowledge, fake_openai):
    fused = retrieve(bot=knowledge, query=QUERY, top_k=3)
    assert fused[0].content == RARE, "BM25 puts the repeated rare word first (the premise of this test)"
    assert fake_openai.rerank_calls == []

    reranked = retrieve(bot=_with_reranker(knowledge), query=QUERY, top_k=3)

    assert reranked[0].content == ANSWER
    scores = [chunk.score for chunk in reranked]
    assert scores == [overlap_score(QUERY, chunk.content) for chunk in reranked] and scores == sorted(scores)[::-1]
    assert reranked[0].score == overlap_score(QUERY, ANSWER)
    (call,) = fake_openai.rerank_calls
    assert call.path.endswith("/rerank")
    assert call.headers["authorization"] == "Bearer rerank-key"
    assert call.body["query"] == QUERY and call.body["top_n"] == 3
    # A deeper list than top_k went to the reranker: every passage of this small bot that BM25 matched.
    assert len(call.body["documents"]) > 3 and any(document.endswith(ANSWER) for document in call.body["documents"])


def test_reranking_records_its_usage(knowledge, fake_openai):
    reranked = retrieve(bot=_with_reranker(knowledge), query=QUERY, top_k=3)
    assert reranked
    event = UsageEvent.objects.get(kind="rerank", bot_profile_id=knowledge.pk)
    assert event.model == "cohere/rerank-v3.5"
    documents = fake_openai.rerank_calls[0].body["documents"]
    # The fake reports no tokens: counted locally, the question once per passage plus the passages.
    assert event.prompt_tokens == sum(count_tokens(QUERY) + count_tokens(document) for document in documents)
    assert event.latency_ms is not None


@pytest.mark.parametrize("failure", [{"status": 500}, {"status": 401}, {"status": 429}])
def test_a_failing_reranker_keeps_the_fused_order(knowledge, fake_openai, failure, caplog):
    fused = retrieve(bot=knowledge, query=QUERY, top_k=3)
    fake_openai.fail_next(1, **failure)
    caplog.set_level(logging.WARNING)

    results = retrieve(bot=_with_reranker(knowledge), query=QUERY, top_k=3)

    assert [(c.chunk_id, c.score) for c in results] == [(c.chunk_id, c.score) for c in fused]
    assert len(fake_openai.rerank_calls) == 1
    assert "reranking failed" in caplog.text and "keeping the fused order" in caplog.text
    assert "sk-fake-leak" not in caplog.text and "rerank-key" not in caplog.text
    assert not UsageEvent.objects.filter(kind="rerank").exists()


def test_a_reranker_that_times_out_keeps_the_fused_order_within_the_timeout(knowledge, fake_openai, settings):
    settings.RERANK_TIMEOUT_SECONDS = 0.5
    fused = retrieve(bot=knowledge, query=QUERY, top_k=3)
    fake_openai.fail_next(1, sleep=3)

    started = time.monotonic()
    results = retrieve(bot=_with_reranker(knowledge), query=QUERY, top_k=3)

    assert time.monotonic() - started < 2.5
    assert [c.chunk_id for c in results] == [c.chunk_id for c in fused]


def test_a_private_rerank_endpoint_is_refused_without_the_override(knowledge, fake_openai, settings):
    fused = retrieve(bot=knowledge, query=QUERY, top_k=3)
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False

    results = retrieve(bot=_with_reranker(knowledge), query=QUERY, top_k=3)

    assert [c.chunk_id for c in results] == [c.chunk_id for c in fused]
    assert fake_openai.rerank_calls == []


def test_rerank_endpoint_rebound_to_loopback_after_the_check_is_never_contacted(fake_openai, settings, monkeypatch):
    import socket

    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    real, seen = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):  # public for the check, loopback for the connection
        if host != "rerank.rebind.test":
            return real(host, port, *args, **kwargs)
        seen.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34" if len(seen) == 1 else "127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    config = rerank.RerankConfig(
        model="cohere/rerank-v3.5", api_key="k", api_base=f"http://rerank.rebind.test:{fake_openai.port}/v1"
    )

    with pytest.raises(rerank.RerankError, match="rerank endpoint is not allowed"):
        rerank.rerank(config, query="owls", documents=["owls hunt at night", "cats sleep"], top_n=1)

    assert seen == ["rerank.rebind.test", "rerank.rebind.test"]
    assert fake_openai.rerank_calls == []


def test_the_chat_models_key_and_base_never_reach_the_reranker(in_tenant):
    from sources.retrieval import rerank_config

    bot = bot_create(
        name="Chat key only",
        rerank_model="cohere/rerank-v3.5",
        credentials={"api_key": "chat-key", "api_base": "https://llm.example.com/v1"},
    )
    config = rerank_config(bot)
    assert config.api_key is None and config.api_base is None  # the provider's environment key, its own host


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("cohere/rerank-v3.5", None),
        ("rerank-english-v3.0", None),
        ("jina_ai/jina-reranker-v2-base-multilingual", None),
        ("voyage/rerank-2", None),
        ("together_ai/Salesforce/Llama-Rank-V1", None),
        ("infinity/BAAI/bge-reranker-base", None),
        ("hosted_vllm/BAAI/bge-reranker-v2-m3", None),
        ("my-reranker", "does not know which provider"),
        ("openai/gpt-4o-mini", "no rerank API"),
        ("ollama/bge-reranker", "no rerank API"),
    ],
)
def test_rerank_models_are_checked_against_litellms_providers(model, problem):
    found = rerank.model_problem(model)
    assert (found is None) if problem is None else (problem in found)


# --- the API --------------------------------------------------------------------------------------------------


def test_rerank_model_and_credentials_through_the_bot_api(tenant_a):
    client = tenant_a.client()
    created = client.post(
        "/v1/bot-profiles",
        {
            "name": "Reranking bot",
            "rerank_model": "cohere/rerank-v3.5",
            "credentials": {"rerank_api_key": "co-secret-1", "rerank_api_base": "https://api.cohere.com"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["rerank_model"] == "cohere/rerank-v3.5" and body["has_credentials"] is True
    assert "co-secret-1" not in created.content.decode()
    url = f"/v1/bot-profiles/{body['id']}"
    assert client.get(url).json()["rerank_model"] == "cohere/rerank-v3.5"

    patched = client.patch(url, {"rerank_model": "jina_ai/jina-reranker-v2-base-multilingual"}, format="json")
    assert patched.status_code == 200, patched.content
    assert client.get(url).json()["rerank_model"] == "jina_ai/jina-reranker-v2-base-multilingual"

    from bots.models import BotProfile
    from minirag.tenancy import tenant_context

    with tenant_context(tenant_a.tenant):
        stored = bot_credentials(BotProfile.objects.get(pk=body["id"]))
    assert stored == {"rerank_api_key": "co-secret-1", "rerank_api_base": "https://api.cohere.com"}

    assert client.patch(url, {"rerank_model": None}, format="json").status_code == 200
    assert client.get(url).json()["rerank_model"] is None
    assert client.patch(url, {"rerank_model": ""}, format="json").json()["rerank_model"] is None


def test_a_rerank_model_litellm_cannot_rerank_with_is_a_422(tenant_a):
    client = tenant_a.client()
    unknown = client.post("/v1/bot-profiles", {"name": "x", "rerank_model": "my-reranker"}, format="json")
    assert unknown.status_code == 422
    assert "provider prefix" in str(unknown.json()["detail"])
    chat_model = client.post("/v1/bot-profiles", {"name": "x", "rerank_model": "openai/gpt-4o-mini"}, format="json")
    assert chat_model.status_code == 422
    assert "no rerank API" in str(chat_model.json()["detail"])
    bad_base = client.post(
        "/v1/bot-profiles",
        {"name": "x", "rerank_model": "cohere/rerank-v3.5", "credentials": {"rerank_api_base": "ftp://nope"}},
        format="json",
    )
    assert bad_base.status_code == 422

    bot = client.post("/v1/bot-profiles", {"name": "ok"}, format="json").json()
    patched = client.patch(f"/v1/bot-profiles/{bot['id']}", {"rerank_model": "my-reranker"}, format="json")
    assert patched.status_code == 422
    assert client.get(f"/v1/bot-profiles/{bot['id']}").json()["rerank_model"] is None


def test_rerank_model_of_another_tenants_bot_answers_like_a_missing_one(tenant_a, tenant_b):
    bot = tenant_a.client().post("/v1/bot-profiles", {"name": "mine"}, format="json").json()
    response = tenant_b.client().patch(
        f"/v1/bot-profiles/{bot['id']}", {"rerank_model": "cohere/rerank-v3.5"}, format="json"
    )
    assert response.status_code == 404
    assert tenant_a.client().get(f"/v1/bot-profiles/{bot['id']}").json()["rerank_model"] is None
