"""Ingestion through real Celery worker PROCESSES on a real Redis broker and the test database.

- a worker SIGKILLed mid-ingestion: its lease lapses, the sweeper fails the source with a clear message and
  removes every partial row and index entry, and the source can be ingested again;
- two workers ingesting into one tenant at the same time: no deadlock, nothing lost.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest

from minirag.tests.celery_worker import require_redis, reset_pools, subprocess_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]


@contextmanager
def worker_processes(count: int, **overrides: str):
    """`count` worker processes (`celery worker -c 1`) on a queue of their own; the test process routes the
    ingestion tasks there. Yields the Popen objects (each its own process group, so a kill takes its pool)."""
    from minirag.celery import app

    broker = require_redis()
    queue = f"ingest-proc-{uuid.uuid4().hex[:8]}"
    environment = subprocess_env(
        CELERY_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER="false",
        MINIRAG_ALLOW_PRIVATE_NETWORK="true",
        KNOWLEDGE_INDEX="postgres",
        **overrides,
    )
    command = [sys.executable, "-m", "celery", "-A", "minirag", "worker", "-Q", queue, "-c", "1",
               "--without-gossip", "--without-mingle", "-l", "WARNING"]  # fmt: skip
    processes = [
        subprocess.Popen([*command, "-n", f"{queue}-{n}@%h"], cwd=BASE_DIR, env=environment, start_new_session=True)
        for n in range(count)
    ]
    keys = ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_ROUTES")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(
        CELERY_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_TASK_ROUTES={"sources.tasks.ingest_source": {"queue": queue}},
    )
    reset_pools(app)
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        app.conf.update(saved)
        reset_pools(app)
        import redis

        redis.Redis.from_url(broker).delete(queue)


def _wait_for(predicate, *, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def worker_bot(tenant_rows_restored_at_session_end, tenant_a):
    from bots.models import BotProfile
    from bots.services import bot_create
    from minirag.tenancy import tenant_context

    bots = []

    def make(**fields):
        with tenant_context(tenant_a.tenant):
            bot = bot_create(name=f"Worker bot {len(bots)}", **fields)
        bots.append(bot)
        return bot

    yield make
    with tenant_context(tenant_a.tenant):
        BotProfile.objects.filter(pk__in=[bot.pk for bot in bots]).delete()


def test_a_worker_killed_mid_ingestion_leaves_an_error_and_nothing_behind(tenant_a, worker_bot, fake_openai, settings):
    from minirag.tenancy import tenant_context
    from sources import services
    from sources.index import get_index
    from sources.models import Chunk, Document, Posting, Source, SourceStatus
    from sources.tasks import sweep_stuck_sources

    settings.INGEST_LEASE_SECONDS = 3
    fake_openai.delay = 0.5  # every embedding call: the run is slow enough to be killed halfway
    bot = worker_bot(
        embedding_model="openai/fake-embed-16",
        credentials={"api_key": "test-key", "api_base": fake_openai.base_url},
    )
    with tenant_context(tenant_a.tenant):
        text = "\n\n".join(f"Paragraph {n} about otters, rivers and the fish they catch." for n in range(60))
        source = services.source_create(bot_profile_id=bot.pk, name="Long notes", source_type="text", content=text)

    with worker_processes(
        1, CHUNK_SIZE_TOKENS="24", CHUNK_OVERLAP_TOKENS="4", EMBEDDING_BATCH_SIZE="2", INGEST_HEARTBEAT_SECONDS="0.5"
    ) as (worker,):
        with tenant_context(tenant_a.tenant):
            services.source_ingest(source=source)
            committed = _wait_for(lambda: Chunk.objects.filter(source_id=source.pk).count() >= 4, timeout=60)
            assert committed, Source.objects.filter(pk=source.pk).values("status", "stage", "error_message").first()
            assert Posting.objects.filter(chunk__source_id=source.pk).exists()
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, mid-ingestion
            worker.wait(timeout=10)
            assert Source.objects.get(pk=source.pk).status == SourceStatus.PROCESSING

        time.sleep(settings.INGEST_LEASE_SECONDS + 1)  # the lease lapses (nobody renews it)
        assert sweep_stuck_sources() == 1

    with tenant_context(tenant_a.tenant):
        source.refresh_from_db()
        assert source.status == SourceStatus.ERROR
        assert "stopped responding" in source.error_message
        assert not Document.objects.filter(source_id=source.pk).exists()
        assert not Chunk.objects.filter(source_id=source.pk).exists()
        assert get_index().count_entries(source_ids=[source.pk]) == 0
        assert get_index().count_entries(source_ids=[source.pk], dense=True) == 0
        with mock.patch("sources.tasks.ingest_source.apply_async") as queued:
            services.source_ingest(source=source)  # accepted again (no 409)
        queued.assert_called_once()
        assert Source.objects.get(pk=source.pk).stage == "queued"


def test_two_workers_ingest_into_one_tenant_concurrently(tenant_a, worker_bot):
    from minirag.tenancy import tenant_context
    from sources import services
    from sources.index import get_index
    from sources.models import Source, SourceStatus
    from sources.retrieval import retrieve

    bot = worker_bot()
    animals = ["otter", "camel", "koala", "heron", "badger", "lynx", "walrus", "gecko"]
    with tenant_context(tenant_a.tenant):
        sources = [
            services.source_create(
                bot_profile_id=bot.pk,
                name=f"{animal} notes",
                source_type="text",
                # Shared words in every source: both workers write postings of the same terms at once.
                content="\n\n".join(f"The {animal} number {n} shares common river forest words." for n in range(80)),
            )
            for animal in animals
        ]
    with worker_processes(2, CHUNK_SIZE_TOKENS="24", CHUNK_OVERLAP_TOKENS="4", EMBEDDING_BATCH_SIZE="4"):
        with tenant_context(tenant_a.tenant):
            for source in sources:
                services.source_ingest(source=source)

            def all_done():
                states = list(Source.objects.filter(pk__in=[s.pk for s in sources]).values_list("status", flat=True))
                return all(state in (SourceStatus.READY, SourceStatus.ERROR) for state in states)

            assert _wait_for(all_done, timeout=120, interval=0.2)

    with tenant_context(tenant_a.tenant):
        finished = list(Source.objects.filter(pk__in=[s.pk for s in sources]))
        assert [(s.status, s.error_message) for s in finished] == [(SourceStatus.READY, None)] * len(sources)
        assert get_index().count_entries(source_ids=[s.pk for s in sources]) == sum(s.chunk_count for s in finished)
        assert "walrus" in retrieve(bot=bot, query="walrus number 7")[0].content


def test_manage_py_ingest_queues_everything_and_follows_the_workers(tenant_a, worker_bot, tmp_path, settings):
    import io

    from django.core.management import call_command

    from minirag.tenancy import tenant_context
    from sources.models import Source, SourceStatus

    settings.CELERY_TASK_ALWAYS_EAGER = False  # what the command sees next to a running `make run`
    bot = worker_bot()
    for name in ("owls", "bats", "moths"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\nNotes about {name} at night.")
    out = io.StringIO()
    with worker_processes(2):
        call_command("ingest", "--tenant", "tenant-a", "--bot", str(bot.pk), "--no-progress", str(tmp_path), stdout=out)
    assert "created 3, updated 0, unchanged 0, retired 0, failed 0" in out.getvalue()
    with tenant_context(tenant_a.tenant):
        assert set(Source.objects.filter(bot_profile=bot).values_list("status", flat=True)) == {SourceStatus.READY}
