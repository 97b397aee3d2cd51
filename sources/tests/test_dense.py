"""Dense vectors through LiteLLM against the fake OpenAI-compatible server: batching, backoff, usage, hybrid."""

from unittest import mock

import pytest

from bots.services import bot_create
from minirag.integrations import embeddings
from sources import services
from sources.index import get_index
from sources.models import SourceStatus
from sources.retrieval import query_embedding, retrieve
from sources.tests.factories import SourceFactory
from usage.models import UsageEvent

TEXT = "\n\n".join(
    f"Section {n}. The {animal} lives in the {place} and eats {food}."
    for n, (animal, place, food) in enumerate(
        [("otter", "river", "fish"), ("camel", "desert", "thorns"), ("koala", "forest", "eucalyptus")] * 4
    )
)


@pytest.fixture
def dense_bot(in_tenant, fake_openai, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    settings.CHUNK_SIZE_TOKENS = 24
    settings.CHUNK_OVERLAP_TOKENS = 4
    settings.EMBEDDING_BATCH_SIZE = 4
    return bot_create(
        name="Dense",
        embedding_model="openai/fake-embed-32",
        credentials={"api_key": "test-key", "api_base": fake_openai.base_url},
    )


@pytest.fixture
def no_sleep():
    with mock.patch.object(embeddings, "_sleep") as sleeper:
        yield sleeper


def _ingest(run_on_commit, source):
    run_on_commit(services.source_ingest, source=source)
    source.refresh_from_db()
    return source


def test_dense_ingestion_batches_records_usage_and_searches_hybrid(dense_bot, fake_openai, run_on_commit):
    source = _ingest(run_on_commit, SourceFactory(bot_profile=dense_bot, content=TEXT))

    assert source.status == SourceStatus.READY, source.error_message
    calls = fake_openai.embedding_calls
    assert len(calls) == -(-source.chunk_count // 4)  # ceil: batches of EMBEDDING_BATCH_SIZE
    assert all(len(call.body["input"]) <= 4 for call in calls)
    assert calls[0].headers.get("authorization") == "Bearer test-key"
    assert get_index().count_entries(source_ids=[source.pk], dense=True) == source.chunk_count

    usage = UsageEvent.objects.get(kind="embedding", source_id=source.pk)
    assert usage.model == "openai/fake-embed-32" and usage.bot_profile_id == dense_bot.pk
    assert usage.prompt_tokens == sum(len(call.body["input"][i].split()) for call in calls
                                      for i in range(len(call.body["input"])))  # fmt: skip

    results = retrieve(bot=dense_bot, query="what does the camel eat in the desert?")
    assert results and "camel" in results[0].content
    assert UsageEvent.objects.filter(kind="embedding", source_id__isnull=True, bot_profile_id=dense_bot.pk).count() == 1


def test_rate_limit_retries_only_the_failed_batch_honouring_retry_after(
    dense_bot, fake_openai, run_on_commit, no_sleep
):
    source = SourceFactory(bot_profile=dense_bot, content=TEXT)
    original = embeddings._embed_once
    seen = []

    def spy(config, texts):
        seen.append(tuple(texts))
        if len(seen) == 2:
            fake_openai.fail_next(2, status=429, retry_after=7)
        return original(config, texts)

    with mock.patch.object(embeddings, "_embed_once", side_effect=spy):
        source = _ingest(run_on_commit, source)

    assert source.status == SourceStatus.READY, source.error_message
    assert [call.args[0] for call in no_sleep.call_args_list] == [7.0, 7.0]
    assert seen[1] == seen[2] == seen[3] != seen[0]  # the failing (2nd) batch retried alone, twice
    assert len(set(seen)) == len(seen) - 2  # every other batch was sent exactly once


def test_server_errors_exhaust_retries_into_a_human_message(dense_bot, fake_openai, run_on_commit, no_sleep, settings):
    settings.EMBEDDING_MAX_RETRIES = 2
    fake_openai.fail_next(10, status=500)
    source = _ingest(run_on_commit, SourceFactory(bot_profile=dense_bot, content="Short text about owls."))
    assert source.status == SourceStatus.ERROR
    assert source.error_message == "The embedding provider failed"
    assert "sk-fake" not in source.error_message
    assert len(fake_openai.embedding_calls) == 3
    assert len(no_sleep.call_args_list) == 2


def test_bad_key_fails_without_retry(dense_bot, fake_openai, run_on_commit, no_sleep):
    fake_openai.fail_next(1, status=401)
    source = _ingest(run_on_commit, SourceFactory(bot_profile=dense_bot, content="Short text about owls."))
    assert source.status == SourceStatus.ERROR
    assert "rejected the API key" in source.error_message
    no_sleep.assert_not_called()


def test_private_api_base_is_refused_without_the_override(dense_bot, fake_openai, run_on_commit, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    source = _ingest(run_on_commit, SourceFactory(bot_profile=dense_bot, content="Owls hunt at night."))
    assert source.status == SourceStatus.ERROR
    assert "not allowed" in source.error_message
    assert fake_openai.embedding_calls == []


def test_bots_with_different_embedding_spaces_coexist(dense_bot, fake_openai, run_on_commit):
    other = bot_create(
        name="Other dims",
        embedding_model="openai/fake-embed-48",
        credentials={"api_key": "test-key", "api_base": fake_openai.base_url},
    )
    sparse = bot_create(name="Sparse only")
    for bot in (dense_bot, other, sparse):
        source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Lighthouses guide ships at night."))
        assert source.status == SourceStatus.READY, source.error_message
    for bot in (dense_bot, other, sparse):
        assert retrieve(bot=bot, query="lighthouses guide ships")[0].source_id


def test_changing_the_embedding_model_reindexes_the_bots_sources(dense_bot, fake_openai, run_on_commit):
    from bots.services import bot_update

    source = _ingest(run_on_commit, SourceFactory(bot_profile=dense_bot, content="Tulips bloom in spring."))
    run_on_commit(bot_update, bot=dense_bot, changes={"embedding_model": "openai/fake-embed-16"})
    dense_bot.refresh_from_db()
    source.refresh_from_db()
    assert source.status == SourceStatus.READY
    assert "fake-embed-16" in source.index_signature
    assert retrieve(bot=dense_bot, query="tulips spring")[0].source_id == str(source.pk)


def test_query_embedding_outage_falls_back_to_lexical(dense_bot, fake_openai, run_on_commit, no_sleep):
    _ingest(run_on_commit, SourceFactory(bot_profile=dense_bot, content="Glaciers carve valleys."))
    fake_openai.fail_next(10, status=503)
    results = retrieve(bot=dense_bot, query="glaciers carve valleys")
    assert results and "Glaciers" in results[0].content


def test_query_embedding_is_none_for_sparse_bots(in_tenant):
    assert query_embedding(bot=bot_create(name="plain"), query="hello") is None


def test_embedding_endpoint_rebound_to_loopback_after_the_check_is_never_contacted(
    dense_bot, fake_openai, settings, monkeypatch
):
    import socket

    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    real, seen = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):  # public for the check, loopback for the connection
        if host != "embed.rebind.test":
            return real(host, port, *args, **kwargs)
        seen.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34" if len(seen) == 1 else "127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    config = embeddings.EmbeddingConfig(
        model="openai/fake-embed-32", api_key="test-key", api_base=f"http://embed.rebind.test:{fake_openai.port}/v1"
    )

    with pytest.raises(embeddings.EmbeddingError, match="embedding endpoint is not allowed"):
        embeddings.embed_batch(config, ["owls hunt at night"])

    assert seen == ["embed.rebind.test", "embed.rebind.test"]
    assert fake_openai.embedding_calls == []
