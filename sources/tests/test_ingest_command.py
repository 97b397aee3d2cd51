"""`manage.py ingest` runs the same services as the API, shows progress, summarises, and fails loudly."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources.models import Source, SourceStatus
from sources.retrieval import retrieve

# Like the real command: autocommit, so queued ingestion runs (eagerly) as each source is created.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bot(tenant_rows_restored_at_session_end, tenant_a):
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="CLI bot")
    yield bot
    with tenant_context(tenant_a.tenant):  # committed rows in the tenant schema are not flushed
        BotProfile.objects.filter(pk=bot.pk).delete()


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_ingests_a_directory_recursively(tmp_path, tenant_a, bot):
    (tmp_path / "nested").mkdir()
    (tmp_path / "a.md").write_text("# Owls\n\nOwls can rotate their heads very far.")
    (tmp_path / "nested" / "b.txt").write_text("Bats navigate with echolocation.")
    (tmp_path / "ignore.bin").write_bytes(b"\x00\x01")

    code, out, err = _run(
        "--tenant", "tenant-a", "--bot", "CLI bot", "--no-progress", str(tmp_path),
    )  # fmt: skip

    assert code == 0, err
    assert "created 2, updated 0, unchanged 0, retired 0, failed 0" in out and "Skipped 1 file(s)" in out
    with tenant_context(tenant_a.tenant):
        assert set(Source.objects.filter(bot_profile=bot).values_list("status", flat=True)) == {SourceStatus.READY}
        assert "echolocation" in retrieve(bot=bot, query="bats echolocation")[0].content


def test_failures_exit_non_zero_with_a_summary(tmp_path, tenant_a, bot):
    (tmp_path / "empty.txt").write_text("   ")
    (tmp_path / "good.txt").write_text("Good content about foxes.")

    code, out, err = _run(
        "--tenant", "tenant-a", "--bot", str(bot.pk), "--no-progress",
        str(tmp_path / "good.txt"), str(tmp_path / "empty.txt"), "http://127.0.0.1:9/private",
    )  # fmt: skip

    assert code == 1
    assert "created 1, updated 0, unchanged 0, retired 0, failed 2" in out
    assert "FAILED" in err and "No content to ingest" in err and "private and loopback" in err


def test_unknown_tenant_or_bot(tenant_a, bot):
    with pytest.raises(CommandError, match="No tenant"):
        call_command("ingest", "--tenant", "nope", "--bot", "x", "file.txt")
    with pytest.raises(CommandError, match="No active bot"):
        call_command("ingest", "--tenant", "tenant-a", "--bot", "ghost", "file.txt")
