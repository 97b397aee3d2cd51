"""One ingestion through a real Celery worker consuming a real Redis broker (not eager mode).

The worker runs in a thread of this process, so it shares the embedded Qdrant (local mode admits one
process). It needs committed rows, hence a transactional test; its data is removed afterwards.
"""

import time

import pytest

from minirag.tests.celery_worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker():
    with running_worker("sources.tasks.*", queue_prefix="ingest-test") as app:
        yield app


def test_ingestion_runs_in_a_real_worker_through_redis(tenant_rows_restored_at_session_end, tenant_a, celery_worker):
    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources import services
    from sources.models import Source, SourceStatus
    from sources.retrieval import retrieve

    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Worker bot")
    try:
        with tenant_context(tenant_a.tenant):
            source = services.source_create(
                bot_profile_id=bot.pk,
                name="Worker notes",
                source_type="text",
                content="Narwhals have a long spiral tusk that is actually a tooth.",
            )
            services.source_ingest(source=source)  # autocommit: queued to Redis right away
            assert Source.objects.get(pk=source.pk).stage == "queued"

        deadline = time.monotonic() + 30
        while True:
            with tenant_context(tenant_a.tenant):
                current = Source.objects.get(pk=source.pk)
            if current.status in (SourceStatus.READY, SourceStatus.ERROR) or time.monotonic() > deadline:
                break
            time.sleep(0.1)

        assert current.status == SourceStatus.READY, (current.status, current.stage, current.error_message)
        assert current.chunk_count == 1
        with tenant_context(tenant_a.tenant):  # the worker ran in tenant A's schema, not public
            hits = retrieve(bot=bot, query="narwhal spiral tusk")
        assert hits and hits[0].source_id == str(source.pk)
    finally:
        with tenant_context(tenant_a.tenant):
            BotProfile.objects.filter(pk=bot.pk).delete()
