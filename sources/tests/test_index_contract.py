"""One contract, both knowledge-index implementations: PostgreSQL (default) and Qdrant (its in-memory test
double). Every test runs once per backend through the real ingestion pipeline and retrieval."""

from unittest import mock

import pytest

from bots.services import bot_create
from bots.tests.factories import BotProfileFactory
from minirag.integrations import vectorstore
from minirag.tenancy import tenant_context
from sources import services
from sources.index import get_index
from sources.models import Chunk, Source, SourceStatus
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory

FACTS = [
    "Photosynthesis converts light energy into chemical energy inside chloroplasts.",
    "The mitochondria is the powerhouse of the cell and produces ATP through respiration.",
    "Tectonic plates drift slowly and cause earthquakes along fault lines.",
    "Glaciers are slow rivers of ice that carve valleys.",
]


@pytest.fixture(params=["postgres", "qdrant"])
def backend(request, settings, in_tenant):
    settings.KNOWLEDGE_INDEX = request.param
    return request.param


def _ingest(run_on_commit, source):
    run_on_commit(services.source_ingest, source=source)
    source.refresh_from_db()
    assert source.status == SourceStatus.READY, source.error_message
    return source


def test_ingested_knowledge_is_found_and_ranked(backend, run_on_commit):
    bot = BotProfileFactory()
    sources = [_ingest(run_on_commit, SourceFactory(bot_profile=bot, content=fact)) for fact in FACTS]

    results = retrieve(bot=bot, query="which organelle produces ATP?", top_k=3)

    assert results[0].source_id == str(sources[1].pk) and "mitochondria" in results[0].content
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    chunk = Chunk.objects.get(point_id=results[0].chunk_id)
    assert results[0].document_id == str(chunk.document_id) == str(sources[1].current_document_id)
    assert get_index().count_entries(source_ids=[s.pk for s in sources]) == len(FACTS)


def test_top_k_and_lexical_threshold(backend, run_on_commit):
    bot = BotProfileFactory()
    for fact in FACTS:
        _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=fact + " Nature is wonderful."))
    assert len(retrieve(bot=bot, query="nature wonderful", top_k=2)) == 2
    assert len(retrieve(bot=bot, query="nature wonderful", top_k=10)) == len(FACTS)
    assert retrieve(bot=bot, query="nature wonderful", score_threshold=1e6) == []
    assert retrieve(bot=bot, query="the of and") == []  # stop words only


def test_reingest_replaces_the_old_version(backend, run_on_commit):
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Zebras have black and white stripes."))
    services.source_update(source=source, changes={"content": "Flamingos are pink because of their diet."})
    source = _ingest(run_on_commit, Source.objects.get(pk=source.pk))

    assert retrieve(bot=bot, query="zebras stripes") == []
    assert "Flamingos" in retrieve(bot=bot, query="pink flamingos")[0].content
    assert get_index().count_entries(source_ids=[source.pk]) == source.chunk_count


def test_deleted_source_leaves_the_index(backend, run_on_commit):
    bot = BotProfileFactory()
    gone = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Volcanoes erupt molten lava."))
    kept = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Volcanoes sleep for centuries."))

    run_on_commit(services.source_delete, source=gone)

    assert get_index().count_entries(source_ids=[gone.pk]) == 0
    assert [r.source_id for r in retrieve(bot=bot, query="volcanoes")] == [str(kept.pk)]


def test_other_bots_and_tenants_see_nothing(backend, run_on_commit, tenant_b):
    bot = BotProfileFactory()
    _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="The secret launch code is banana."))
    assert retrieve(bot=BotProfileFactory(), query="secret launch code banana") == []
    with tenant_context(tenant_b.tenant):
        from bots.models import BotProfile

        foreign = BotProfile.objects.create(id=bot.pk, name="guessed")  # same id, other tenant
        assert retrieve(bot=foreign, query="secret launch code banana") == []


def test_statistics_are_per_tenant(backend, run_on_commit, tenant_b):
    """Another tenant's corpus never moves this tenant's scores (PostgreSQL: exact; Qdrant: its IDF is per
    collection, so only the ranking is asserted there)."""
    bot = BotProfileFactory()
    for fact in FACTS:
        _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=fact))
    before = [(r.chunk_id, r.score) for r in retrieve(bot=bot, query="slow glaciers carve valleys", top_k=4)]
    with tenant_context(tenant_b.tenant):
        other_bot = BotProfileFactory()
        for n in range(5):
            _ingest(run_on_commit, SourceFactory(bot_profile=other_bot, content=f"Glaciers glaciers valleys {n}."))
    after = [(r.chunk_id, r.score) for r in retrieve(bot=bot, query="slow glaciers carve valleys", top_k=4)]
    assert [chunk for chunk, _ in after] == [chunk for chunk, _ in before]
    if backend == "postgres":
        assert [score for _, score in after] == pytest.approx([score for _, score in before])


def test_dense_spaces_of_several_models_coexist(backend, run_on_commit, fake_openai, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    credentials = {"api_key": "test-key", "api_base": fake_openai.base_url}
    small = bot_create(name="Small", embedding_model="openai/fake-embed-16", credentials=credentials)
    large = bot_create(name="Large", embedding_model="openai/fake-embed-48", credentials=credentials)
    for bot in (small, large):
        for fact in FACTS:
            _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=fact))

    for bot in (small, large):
        results = retrieve(bot=bot, query="rivers of ice carving valleys", top_k=2)
        assert "Glaciers" in results[0].content
        assert all(Source.objects.get(pk=r.source_id).bot_profile_id == bot.pk for r in results)
    assert get_index().count_entries(source_ids=list(Source.objects.values_list("pk", flat=True)), dense=True) == 8


def test_provider_down_falls_back_to_lexical(backend, run_on_commit, fake_openai, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    bot = bot_create(
        name="Dense",
        embedding_model="openai/fake-embed-16",
        credentials={"api_key": "test-key", "api_base": fake_openai.base_url},
    )
    for fact in FACTS:
        _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=fact))
    fake_openai.fail_next(10, status=500)
    results = retrieve(bot=bot, query="tectonic plates earthquakes")
    assert results and "Tectonic" in results[0].content


def test_clear_then_rebuild_through_reindex(backend, run_on_commit):
    from django.core.management import call_command

    bot = BotProfileFactory()
    for fact in FACTS:
        _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=fact))
    get_index().clear(bot_id=str(bot.pk))
    assert retrieve(bot=bot, query="tectonic plates") == []

    call_command("reindex", "--tenant", "tenant-a", "--bot", str(bot.pk), "--no-progress")

    assert "Tectonic" in retrieve(bot=bot, query="tectonic plates")[0].content
    assert get_index().count_entries(source_ids=list(bot.sources.values_list("pk", flat=True))) == len(FACTS)


def test_qdrant_purge_failure_keeps_deleted_knowledge_out(settings, in_tenant, run_on_commit):
    """Qdrant cannot join the database transaction: a failed purge is retried, and retrieval excludes it."""
    settings.KNOWLEDGE_INDEX = "qdrant"
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Octopuses have three hearts."))
    with mock.patch.object(vectorstore, "delete_points", side_effect=vectorstore.VectorStoreError("down")):
        with mock.patch("sources.tasks.purge_source_vectors.apply_async") as queued:
            run_on_commit(services.source_update, source=source, changes={"is_active": False})
    source.refresh_from_db()
    assert source.purge_pending and not source.is_active
    assert get_index().count_entries(source_ids=[source.pk]) == 1, "the vectors are still there..."
    assert retrieve(bot=bot, query="octopuses hearts") == []  # ...but never retrieved
    queued.assert_called_once()
    assert queued.call_args.kwargs["kwargs"] == {"source_ids": [str(source.pk)]}


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_starting_a_new_embedding_space_do_not_collide(
    tenant_rows_restored_at_session_end, tenant_a
):
    """CREATE TABLE/INDEX IF NOT EXISTS is not race-safe in PostgreSQL: creation is serialised per tenant."""
    import threading

    from django.db import connection as thread_connection

    from sources.index import DenseSpace
    from sources.index.postgres import PostgresIndex

    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def prepare(number: int) -> None:
        try:
            with tenant_context(tenant_a.tenant):
                barrier.wait()
                PostgresIndex().prepare(DenseSpace(f"race/model-{number % 2}", 24))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=prepare, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with tenant_context(tenant_a.tenant):
        from sources.models import EmbeddingSpace

        spaces = EmbeddingSpace.objects.filter(model__startswith="race/")
        assert spaces.count() == 2
        spaces.delete()
