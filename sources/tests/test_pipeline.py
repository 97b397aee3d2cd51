"""Ingestion end to end on PostgreSQL with the default (PostgreSQL) knowledge index: no keys, no network."""

from datetime import timedelta
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from bots.tests.factories import BotProfileFactory
from sources import services
from sources.index import KnowledgeIndexError, get_index
from sources.index.postgres import PostgresIndex
from sources.models import Chunk, Document, IngestStage, Posting, Source, SourceStatus
from sources.pipeline import ingest as pipeline
from sources.retrieval import retrieve
from sources.tasks import sweep_stuck_sources
from sources.tests.factories import SourceFactory

PARAGRAPHS = [
    "Photosynthesis converts light energy into chemical energy inside chloroplasts.",
    "The mitochondria is the powerhouse of the cell and produces ATP through respiration.",
    "Tectonic plates drift slowly and cause earthquakes along fault lines.",
]


def _points(source) -> list[str]:
    """The public ids of the source's chunks that have index entries."""
    indexed = Posting.objects.filter(chunk__source=source).values_list("chunk_id", flat=True).distinct()
    return [str(pid) for pid in Chunk.objects.filter(pk__in=indexed).values_list("point_id", flat=True)]


def _ingest(run_on_commit, source, trigger="manual"):
    run_on_commit(services.source_ingest, source=source, trigger=trigger)
    source.refresh_from_db()
    return source


def test_text_source_becomes_searchable(in_tenant, run_on_commit, captured_events):
    bot = BotProfileFactory()
    source = SourceFactory(bot_profile=bot, content="\n\n".join(PARAGRAPHS), name="Biology notes")

    source = _ingest(run_on_commit, source)

    assert source.status == SourceStatus.READY
    assert (source.stage, source.progress) == (IngestStage.DONE, 100)
    assert source.document_count == 1 and source.chunk_count >= 1
    assert source.last_refreshed_at is not None and source.error_message is None
    results = retrieve(bot=bot, query="what produces ATP in the cell?")
    assert results, "the ingested text must be retrievable"
    top = results[0]
    assert "mitochondria" in top.content
    assert top.source_id == str(source.pk) and top.source_name == "Biology notes"
    assert top.document_id == str(source.current_document_id)
    assert top.chunk_index == 0 and top.page is None
    chunk = Chunk.objects.get(point_id=top.chunk_id)
    assert (chunk.char_start, chunk.order) == (0, 0)
    assert ("source.ingested", {"source_id": str(source.pk), "source_name": "Biology notes",
                                "document_count": 1, "chunk_count": source.chunk_count}) in captured_events  # fmt: skip


def test_retrieval_before_any_ingestion_returns_empty(in_tenant):
    assert retrieve(bot=BotProfileFactory(), query="anything at all") == []


def test_running_the_task_twice_never_duplicates(in_tenant, run_on_commit, settings):
    settings.CHUNK_SIZE_TOKENS = 40
    settings.CHUNK_OVERLAP_TOKENS = 8
    source = SourceFactory(content=" ".join(PARAGRAPHS * 6))
    source = _ingest(run_on_commit, source)
    first_points = sorted(_points(source))
    assert len(first_points) == source.chunk_count > 1

    # The same delivery again (acks_late redelivery): same token, forced through the whole pipeline.
    Source.objects.filter(pk=source.pk).update(content_hash="")
    outcome = pipeline.run_ingestion(source_id=str(source.pk), token=str(source.ingest_token))
    assert outcome.status == "ready"
    source.refresh_from_db()
    assert sorted(_points(source)) == first_points
    assert Chunk.objects.filter(source=source).count() == source.chunk_count
    assert Document.objects.filter(source=source).count() == 1


def test_unchanged_content_skips_chunking_and_embedding(in_tenant, run_on_commit, captured_events):
    source = _ingest(run_on_commit, SourceFactory(content=PARAGRAPHS[0]))
    document_id, refreshed = source.current_document_id, source.last_refreshed_at
    with mock.patch.object(pipeline, "chunk_text", side_effect=AssertionError("must not chunk")):
        source = _ingest(run_on_commit, source, trigger="schedule")
    assert source.status == SourceStatus.READY
    assert source.current_document_id == document_id
    assert source.last_refreshed_at > refreshed
    assert captured_events[-1][0] == "source.ingested"


def test_reingest_replaces_old_knowledge(in_tenant, run_on_commit):
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Zebras have black and white stripes."))
    old_points = set(_points(source))

    services.source_update(source=source, changes={"content": "Flamingos are pink because of their diet."})
    source.refresh_from_db()
    assert source.status == SourceStatus.PENDING
    assert retrieve(bot=bot, query="zebras stripes"), "old knowledge stays searchable until re-ingested"

    source = _ingest(run_on_commit, source)
    assert source.status == SourceStatus.READY
    assert retrieve(bot=bot, query="zebras stripes") == []
    assert "Flamingos" in retrieve(bot=bot, query="pink flamingos")[0].content
    assert not old_points & set(_points(source))
    assert Document.objects.filter(source=source).count() == 1


def test_failure_midway_keeps_previous_version_searchable(in_tenant, run_on_commit, captured_events):
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Kangaroos live in Australia."))
    services.source_update(source=source, changes={"content": "Penguins live in Antarctica."})
    source.refresh_from_db()

    with mock.patch.object(PostgresIndex, "write", side_effect=KnowledgeIndexError("index down")):
        source = _ingest(run_on_commit, source)

    assert source.status == SourceStatus.ERROR
    assert "index down" in source.error_message
    assert "Kangaroos" in retrieve(bot=bot, query="kangaroos australia")[0].content
    assert retrieve(bot=bot, query="penguins antarctica") == []
    assert Document.objects.filter(source=source).count() == 1
    assert captured_events[-1] == ("source.failed", {"source_id": str(source.pk), "error": source.error_message})


def test_delete_removes_knowledge_before_returning(in_tenant, run_on_commit):
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Volcanoes erupt molten lava."))
    keep = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Glaciers are slow rivers of ice."))

    services.source_delete(source=source)

    assert retrieve(bot=bot, query="volcanoes lava") == []
    assert _points(source) == []
    assert retrieve(bot=bot, query="glaciers ice")[0].source_id == str(keep.pk)


def test_deactivation_removes_index_entries_in_the_same_transaction(in_tenant, run_on_commit):
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Octopuses have three hearts."))
    assert _points(source)
    with mock.patch("sources.tasks.purge_source_vectors.apply_async") as queued:
        run_on_commit(services.source_update, source=source, changes={"is_active": False})
    source.refresh_from_db()
    assert not source.is_active and not source.purge_pending
    assert not Posting.objects.filter(chunk__source=source).exists()
    assert get_index().count_entries(source_ids=[source.pk]) == 0
    assert retrieve(bot=bot, query="octopuses hearts") == []
    queued.assert_not_called()  # nothing left to purge later


def test_deleting_a_parent_cascades_to_children(in_tenant, run_on_commit):
    bot = BotProfileFactory()
    parent = SourceFactory(bot_profile=bot, content=None, source_type="url", config={})
    child = _ingest(run_on_commit, SourceFactory(bot_profile=bot, parent=parent, content="Comets have icy tails."))
    services.source_delete(source=parent)
    child.refresh_from_db()
    assert not child.is_active
    assert retrieve(bot=bot, query="comets icy tails") == []


def test_deleted_bot_sources_are_not_searchable(in_tenant, run_on_commit):
    from bots.services import bot_delete

    bot = BotProfileFactory()
    _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Saturn has prominent rings."))
    assert retrieve(bot=bot, query="saturn rings")
    bot_delete(bot=bot)
    assert retrieve(bot=bot, query="saturn rings") == []


def test_other_bot_and_other_tenant_never_see_the_knowledge(in_tenant, tenant_b, run_on_commit):
    from minirag.tenancy import tenant_context

    bot = BotProfileFactory()
    _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="The secret launch code is banana."))
    assert retrieve(bot=BotProfileFactory(), query="secret launch code banana") == []
    bot_id = bot.pk
    with tenant_context(tenant_b.tenant):
        from bots.models import BotProfile

        # Same bot id in tenant B's schema (a guessed id): tenant B's filter still excludes A's points.
        foreign = BotProfile.objects.create(id=bot_id, name="guessed")
        assert retrieve(bot=foreign, query="secret launch code banana") == []


def test_empty_content_fails_with_event(in_tenant, run_on_commit, captured_events):
    source = SourceFactory(content="   \n\n  ")
    source = _ingest(run_on_commit, source)
    assert source.status == SourceStatus.ERROR
    assert source.error_message.startswith("No content to ingest")
    assert captured_events == [("source.failed", {"source_id": str(source.pk), "error": source.error_message})]


@override_settings(MAX_EXTRACTED_CHARS=100)
def test_extracted_text_limit(in_tenant, run_on_commit):
    source = _ingest(run_on_commit, SourceFactory(content="word " * 100))
    assert source.status == SourceStatus.ERROR
    assert "limit of 100 characters" in source.error_message


def test_unexpected_errors_become_a_human_message(in_tenant, run_on_commit):
    source = SourceFactory(content="Some text")
    with mock.patch.object(pipeline, "chunk_text", side_effect=RuntimeError("Traceback secret internals")):
        source = _ingest(run_on_commit, source)
    assert source.status == SourceStatus.ERROR
    assert "internal error" in source.error_message and "secret" not in source.error_message


def test_processing_source_conflicts_while_its_lease_is_fresh(in_tenant, settings):
    from minirag.errors import Conflict

    source = SourceFactory()
    started = timezone.now() - timedelta(minutes=10)  # a long run, still renewing its lease
    Source.objects.filter(pk=source.pk).update(
        status=SourceStatus.PROCESSING, processing_started_at=started, heartbeat_at=timezone.now()
    )
    source.refresh_from_db()
    with pytest.raises(Conflict, match="already being processed"):
        services.source_ingest(source=source)
    Source.objects.filter(pk=source.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.INGEST_LEASE_SECONDS + 5)
    )
    source.refresh_from_db()
    services.source_ingest(source=source)  # the lease lapsed: the run is dead and superseded


def test_lease_is_renewed_while_the_run_works(in_tenant, run_on_commit, settings):
    source = SourceFactory()
    Source.objects.filter(pk=source.pk).update(
        status=SourceStatus.PROCESSING, ingest_token=source.pk, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    lease = pipeline.Lease(source_id=str(source.pk), token=str(source.pk))
    assert lease.renew() == 1
    source.refresh_from_db()
    assert timezone.now() - source.heartbeat_at < timedelta(seconds=5)
    assert pipeline.Lease(source_id=str(source.pk), token=str(source.pk)).renew() == 1
    # A superseded run (another token) renews nothing.
    assert pipeline.Lease(source_id=str(source.pk), token=str(Source().pk)).renew() == 0


def test_sweeper_removes_what_a_dead_run_left(in_tenant, run_on_commit, settings):
    settings.CHUNK_SIZE_TOKENS = 20
    settings.CHUNK_OVERLAP_TOKENS = 2
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Llamas hum to each other. " * 5))
    live_chunks = set(_points(source))
    # A run of new content died after committing some batches: a second document with chunks and postings.
    services.source_update(source=source, changes={"content": "Alpacas are smaller than llamas. " * 40})
    with mock.patch.object(pipeline, "publish", side_effect=SystemExit("worker killed")):
        with pytest.raises(SystemExit):
            pipeline.run_ingestion(source_id=str(source.pk))
    # (run_ingestion cleans up on the way out; simulate a SIGKILL instead: put the partial run back)
    Source.objects.filter(pk=source.pk).update(status=SourceStatus.PROCESSING)
    partial = _ingest_partial(source, bot)
    Source.objects.filter(pk=source.pk).update(
        status=SourceStatus.PROCESSING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.INGEST_LEASE_SECONDS + 1),
    )
    assert Posting.objects.filter(chunk__document=partial).exists()

    assert run_on_commit(sweep_stuck_sources) == 1

    source.refresh_from_db()
    assert source.status == SourceStatus.ERROR and "stopped responding" in source.error_message
    assert not Document.objects.filter(pk=partial.pk).exists()
    assert not Posting.objects.filter(chunk__document_id=partial.pk).exists()
    assert set(_points(source)) == live_chunks, "the live version stays searchable"
    assert retrieve(bot=bot, query="llamas hum")
    assert retrieve(bot=bot, query="alpacas smaller") == []
    assert _ingest(run_on_commit, source).status == SourceStatus.READY  # accepted again


def _ingest_partial(source, bot) -> Document:
    """What a killed run leaves: a committed batch of a new version (rows + postings), never switched to."""
    from sources.index import Batch, ChunkEntry
    from sources.pipeline import lexical

    document = Document.objects.create(source=source, version="dead-run", content_hash="x")
    text = "Alpacas are smaller than llamas."
    chunk = Chunk.objects.create(
        document=document, source=source, point_id=Source().pk, order=0, content=text,
        char_start=0, char_end=len(text), token_count=6,
    )  # fmt: skip
    terms, length = lexical.term_frequencies(text)
    get_index().write(
        Batch(
            bot_id=str(bot.pk), source_id=str(source.pk), document_id=str(document.pk), version="dead-run",
            entries=[ChunkEntry(chunk_id=str(chunk.pk), point_id=str(chunk.point_id), order=0, terms=terms,
                                length=length)],
        )
    )  # fmt: skip
    return document


def test_sweeper_fails_stuck_sources_in_every_tenant(in_tenant, tenant_b, run_on_commit, captured_events, settings):
    from minirag.tenancy import tenant_context

    long_ago = timezone.now() - timedelta(seconds=settings.INGEST_LEASE_SECONDS + 60)
    stuck = SourceFactory()
    fresh = SourceFactory()
    Source.objects.filter(pk=stuck.pk).update(
        status=SourceStatus.PROCESSING, processing_started_at=long_ago, ingest_token=stuck.pk
    )
    Source.objects.filter(pk=fresh.pk).update(status=SourceStatus.PROCESSING, processing_started_at=timezone.now())
    with tenant_context(tenant_b.tenant):
        other = SourceFactory()
        Source.objects.filter(pk=other.pk).update(status=SourceStatus.PROCESSING, processing_started_at=long_ago)

    failed = run_on_commit(sweep_stuck_sources)

    assert failed == 2
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == SourceStatus.ERROR and "stopped responding" in stuck.error_message
    assert stuck.ingest_token is None
    assert fresh.status == SourceStatus.PROCESSING
    with tenant_context(tenant_b.tenant):
        assert Source.objects.get(pk=other.pk).status == SourceStatus.ERROR
    assert ("source.failed", {"source_id": str(stuck.pk), "error": stuck.error_message}) in captured_events
    # A late finish of the swept run is ignored; a new ingest works.
    assert pipeline.run_ingestion(source_id=str(stuck.pk), token=str(stuck.pk)).status in ("ready", "superseded")
    stuck = _ingest(run_on_commit, stuck)
    assert stuck.status == SourceStatus.READY


def test_sweeper_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sources-sweep-stuck"]
    assert entry["task"] == "sources.tasks.sweep_stuck_sources"
    assert entry["schedule"] == settings.INGEST_SWEEP_INTERVAL_SECONDS


def test_a_broker_outage_fails_the_source_instead_of_leaving_it_queued(in_tenant, run_on_commit, captured_events):
    source = SourceFactory()

    with mock.patch("sources.tasks.ingest_source.apply_async", side_effect=ConnectionError("broker down")):
        run_on_commit(services.source_ingest, source=source)  # the request itself succeeds

    source.refresh_from_db()
    assert source.status == SourceStatus.ERROR and source.stage is None
    assert "task broker unavailable" in source.error_message
    assert ("source.failed", {"source_id": str(source.pk), "error": source.error_message}) in captured_events


def test_a_bots_new_language_requeues_its_indexed_sources_through_an_internal_event(
    in_tenant, run_on_commit, captured_events
):
    from bots.services import bot_update
    from minirag import events

    bot = BotProfileFactory()
    indexed = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Herons stand still in shallow water."))
    never_ingested = SourceFactory(bot_profile=bot)
    other_bot = _ingest(run_on_commit, SourceFactory(content="Storks fly south in autumn."))
    captured_events.clear()

    with mock.patch("sources.tasks.ingest_source.apply_async") as queued:
        run_on_commit(bot_update, bot=bot, changes={"language": "german"})

    queued_ids = [call.kwargs["kwargs"]["source_id"] for call in queued.call_args_list]
    assert queued_ids == [str(indexed.pk)]
    assert queued.call_args.kwargs["kwargs"]["trigger"] == "reindex"
    assert str(never_ingested.pk) not in queued_ids and str(other_bot.pk) not in queued_ids
    assert Source.objects.get(pk=indexed.pk).stage == IngestStage.QUEUED
    # Internal: the public subscribers (webhook delivery among them) never hear it, nor can webhooks ask for it.
    assert captured_events == []
    assert events.BOT_INDEX_CONFIG_CHANGED not in events.EVENT_TYPES


def test_superseded_task_does_nothing(in_tenant, run_on_commit):
    source = SourceFactory()
    with mock.patch("sources.tasks.ingest_source.apply_async"):
        run_on_commit(services.source_ingest, source=source)
        first_token = Source.objects.get(pk=source.pk).ingest_token
        run_on_commit(services.source_ingest, source=source)
    assert pipeline.run_ingestion(source_id=str(source.pk), token=str(first_token)).status == "superseded"
    assert Source.objects.get(pk=source.pk).stage == IngestStage.QUEUED


def test_top_k_and_score_threshold(in_tenant, run_on_commit):
    bot = BotProfileFactory(retrieval_top_k=2)
    for paragraph in PARAGRAPHS:
        _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=paragraph + " Energy matters."))
    assert len(retrieve(bot=bot, query="energy")) == 2  # the bot's retrieval_top_k
    assert len(retrieve(bot=bot, query="energy", top_k=3)) == 3
    ranked = retrieve(bot=bot, query="chemical energy chloroplasts", top_k=3)
    assert "chloroplasts" in ranked[0].content
    assert ranked[0].score >= ranked[1].score >= ranked[2].score
    assert retrieve(bot=bot, query="energy", score_threshold=1e6) == []


def test_ingest_task_is_late_acked_time_limited_and_routed_to_the_ingest_queue(settings):
    from minirag.celery import app
    from sources.tasks import ingest_source

    assert ingest_source.acks_late is True
    assert ingest_source.reject_on_worker_lost is False  # the sweeper recovers; no poison-message loop
    assert ingest_source.soft_time_limit == settings.INGEST_SOFT_TIME_LIMIT_SECONDS
    assert ingest_source.time_limit == settings.INGEST_HARD_TIME_LIMIT_SECONDS
    assert app.amqp.router.route({}, ingest_source.name)["queue"].name == "ingest"


def test_content_change_during_a_run_supersedes_it(in_tenant, run_on_commit):
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content="Old fact: the bridge is red."))
    original_chunk_text = pipeline.chunk_text

    def edit_midway(*args, **kwargs):
        services.source_update(source=source, changes={"content": "New fact: the bridge is blue."})
        return original_chunk_text(*args, **kwargs)

    Source.objects.filter(pk=source.pk).update(content_hash="")  # force a full run
    with mock.patch.object(pipeline, "chunk_text", side_effect=edit_midway):
        outcome = pipeline.run_ingestion(source_id=str(source.pk))
    assert outcome.status == "superseded"
    source.refresh_from_db()
    assert source.status == SourceStatus.PENDING and source.content_hash == ""
    assert "red" in retrieve(bot=bot, query="bridge red")[0].content  # the previous version still answers
    source = _ingest(run_on_commit, source)
    assert "blue" in retrieve(bot=bot, query="bridge blue")[0].content
