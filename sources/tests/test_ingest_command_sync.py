"""`manage.py ingest` is idempotent: keyed sources, unchanged files left alone, `--sync`, `--dry-run`."""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources import services
from sources.management.ingest_plan import normalised_url
from sources.models import Source, SourceStatus
from sources.retrieval import retrieve
from sources.tasks import ingest_source

# Like the real command: autocommit, so queued ingestion runs (eagerly) as each source is created.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bot(tenant_rows_restored_at_session_end, tenant_a):
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Sync bot")
    yield bot
    with tenant_context(tenant_a.tenant):  # committed rows in the tenant schema are not flushed
        BotProfile.objects.filter(pk=bot.pk).delete()


@pytest.fixture
def queued():
    """Every ingestion task sent (they still run: eager mode)."""
    with mock.patch.object(ingest_source, "apply_async", wraps=ingest_source.apply_async) as delay:
        yield delay


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest", "--tenant", "tenant-a", "--bot", "Sync bot", "--no-progress", *args, stdout=out,
                     stderr=err)  # fmt: skip
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def _docs(root):
    """A Django-docs-like folder: two `index.txt` in different subfolders."""
    docs = root / "docs"
    (docs / "intro").mkdir(parents=True)
    (docs / "topics").mkdir()
    (docs / "intro" / "index.txt").write_text("Introduction: the tutorial starts with a poll application.")
    (docs / "topics" / "index.txt").write_text("Topics: models, querysets and migrations in depth.")
    (docs / "faq.md").write_text("# FAQ\n\nThe walrus operator is not required by this framework.")
    return docs


def _snapshot(tenant, bot):
    with tenant_context(tenant.tenant):
        return {
            row[0]: row[1:]
            for row in Source.objects.filter(bot_profile=bot).values_list(
                "external_id", "pk", "is_active", "status", "updated_at", "current_document_id", "file_sha256"
            )
        }


def test_the_first_run_keys_and_names_sources_by_their_relative_path(tmp_path, tenant_a, bot):
    docs = _docs(tmp_path)

    code, out, err = _run(str(docs))

    assert code == 0, err
    assert "created 3, updated 0, unchanged 0, retired 0, failed 0" in out
    with tenant_context(tenant_a.tenant):
        rows = set(Source.objects.filter(bot_profile=bot).values_list("external_id", "name", "status"))
    assert rows == {
        ("docs/intro/index.txt", "docs/intro/index.txt", SourceStatus.READY),
        ("docs/topics/index.txt", "docs/topics/index.txt", SourceStatus.READY),
        ("docs/faq.md", "docs/faq.md", SourceStatus.READY),
    }


def test_a_second_run_on_an_unchanged_folder_changes_nothing(tmp_path, tenant_a, bot, queued):
    docs = _docs(tmp_path)
    assert _run(str(docs))[0] == 0
    before = _snapshot(tenant_a, bot)
    queued.reset_mock()

    code, out, err = _run(str(docs))

    assert code == 0, err
    assert "created 0, updated 0, unchanged 3, retired 0, failed 0" in out
    assert _snapshot(tenant_a, bot) == before  # same rows, nothing written (updated_at unchanged)
    queued.assert_not_called()


def test_a_changed_file_updates_only_its_source(tmp_path, tenant_a, bot, queued):
    docs = _docs(tmp_path)
    assert _run(str(docs))[0] == 0
    before = _snapshot(tenant_a, bot)
    queued.reset_mock()
    (docs / "faq.md").write_text("# FAQ\n\nPenguins answer every question about the framework.")

    code, out, err = _run(str(docs))

    assert code == 0, err
    assert "created 0, updated 1, unchanged 2, retired 0, failed 0" in out
    after = _snapshot(tenant_a, bot)
    assert set(after) == set(before)
    assert after["docs/faq.md"][0] == before["docs/faq.md"][0]  # the same source, updated in place
    assert after["docs/faq.md"][4] != before["docs/faq.md"][4]  # a new current document
    assert {key: after[key] for key in after if key != "docs/faq.md"} == {
        key: before[key] for key in before if key != "docs/faq.md"
    }
    assert queued.call_count == 1
    with tenant_context(tenant_a.tenant):
        assert "Penguins" in retrieve(bot=bot, query="penguins question")[0].content
        assert not [hit for hit in retrieve(bot=bot, query="walrus operator") if "walrus" in hit.content]


def test_sync_retires_a_deleted_files_source_and_nothing_from_elsewhere(tmp_path, tenant_a, bot):
    docs = _docs(tmp_path / "one")
    other = _docs(tmp_path / "two")  # another folder with the same name: its own prefix
    single = tmp_path / "standalone.txt"
    single.write_text("A standalone note about lighthouses.")
    assert _run(str(docs), str(single))[0] == 0
    assert _run("--key-prefix", "other-docs", str(other))[0] == 0
    with tenant_context(tenant_a.tenant):
        # Through the API, with a key under the folder's prefix: not the command's to retire.
        api_source = services.source_create(
            bot_profile_id=bot.pk, name="API", source_type="text", content="API text.", external_id="docs/api.txt"
        )
    (docs / "faq.md").unlink()

    code, out, err = _run("--sync", str(docs))

    assert code == 0, err
    assert "created 0, updated 0, unchanged 2, retired 1, failed 0" in out
    assert "retired    docs/faq.md" in out
    with tenant_context(tenant_a.tenant):
        active = set(Source.objects.filter(bot_profile=bot, is_active=True).values_list("external_id", flat=True))
        assert active == {
            "docs/intro/index.txt", "docs/topics/index.txt", "standalone.txt", "docs/api.txt",
            "other-docs/intro/index.txt", "other-docs/topics/index.txt", "other-docs/faq.md",
        }  # fmt: skip
        retired = Source.objects.get(bot_profile=bot, external_id="docs/faq.md")
        assert retired.is_active is False and retired.chunk_count == 0
        # Its knowledge left retrieval; the other folder's copy of the file still answers.
        hits = [hit for hit in retrieve(bot=bot, query="walrus operator") if "walrus" in hit.content]
        assert {hit.source_id for hit in hits} == {
            str(Source.objects.get(bot_profile=bot, external_id="other-docs/faq.md", is_active=True).pk)
        }
        assert Source.objects.get(pk=api_source.pk).is_active


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path, tenant_a, bot, queued):
    docs = _docs(tmp_path)
    assert _run(str(docs))[0] == 0
    before = _snapshot(tenant_a, bot)
    queued.reset_mock()
    (docs / "faq.md").write_text("# FAQ\n\nChanged.")
    (docs / "topics" / "index.txt").unlink()
    (docs / "new.txt").write_text("A new page.")

    code, out, err = _run("--sync", "--dry-run", str(docs))

    assert code == 0, err
    lines = {line.split(None, 1)[1]: line.split(None, 1)[0] for line in out.splitlines() if line.startswith("  ")}
    assert lines == {
        "docs/faq.md": "update",
        "docs/intro/index.txt": "unchanged",
        "docs/new.txt": "create",
        "docs/topics/index.txt": "retire",
    }
    assert "Dry run, nothing changed. Would be: created 1, updated 1, unchanged 1, retired 1, failed 0" in out
    assert _snapshot(tenant_a, bot) == before
    queued.assert_not_called()


def test_a_failed_file_is_tried_again_and_a_fixed_one_recovers(tmp_path, tenant_a, bot, queued):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.txt").write_text("   ")
    assert _run(str(docs))[0] == 1

    code, out, err = _run(str(docs))  # same bytes, but its last ingestion failed: ingested again

    assert code == 1 and "failed 1" in out and "No content to ingest" in err
    (docs / "empty.txt").write_text("Now it has content about otters.")
    code, out, err = _run(str(docs))
    assert code == 0, err
    assert "created 0, updated 1, unchanged 0, retired 0, failed 0" in out
    with tenant_context(tenant_a.tenant):
        assert list(Source.objects.filter(bot_profile=bot).values_list("status", flat=True)) == [SourceStatus.READY]


def test_worker_mode_queues_nothing_for_an_unchanged_folder(tmp_path, tenant_a, bot, queued, settings):
    docs = _docs(tmp_path)
    assert _run(str(docs))[0] == 0
    queued.reset_mock()
    settings.CELERY_TASK_ALWAYS_EAGER = False  # what the command sees next to a running `make run`

    code, out, err = _run(str(docs))

    assert code == 0, err
    assert "created 0, updated 0, unchanged 3, retired 0, failed 0" in out
    queued.assert_not_called()


def test_two_folders_with_one_name_need_their_own_prefix(tmp_path, bot):
    one, two = _docs(tmp_path / "one"), _docs(tmp_path / "two")
    with pytest.raises(CommandError, match="share the key prefix 'docs/'"):
        _run(str(one), str(two))
    with pytest.raises(CommandError, match="exactly one directory"):
        _run("--key-prefix", "x", str(one), str(two))
    with pytest.raises(CommandError, match="give at least one directory"):
        _run("--sync", str(one / "faq.md"))


@pytest.fixture
def page_server():
    pages = {"/faq": b"Refunds take five days."}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("#")[0], b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_keyed_by_its_normalised_form_and_not_fetched_twice(tenant_a, bot, page_server, settings, queued):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    assert _run(f"{page_server}/faq")[0] == 0
    queued.reset_mock()

    code, out, err = _run(page_server.replace("http://", "HTTP://") + "/faq#refunds")

    assert code == 0, err
    assert "created 0, updated 0, unchanged 1, retired 0, failed 0" in out
    queued.assert_not_called()
    with tenant_context(tenant_a.tenant):
        assert list(Source.objects.filter(bot_profile=bot).values_list("external_id", flat=True)) == [
            f"{page_server}/faq"
        ]


def test_normalised_url():
    assert normalised_url(" HTTPS://Example.COM:443/Docs?q=1#part ") == "https://example.com/Docs?q=1"
    assert normalised_url("http://example.com") == "http://example.com/"
    assert normalised_url("http://[::1]:8080/a") == "http://[::1]:8080/a"
