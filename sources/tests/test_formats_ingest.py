"""The new formats end to end: uploaded through the API and taken from a folder by `manage.py ingest`, each
ingested into chunks with their sections (and slide numbers as pages); refused types name the accepted ones."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources.models import Chunk, Source, SourceStatus
from sources.retrieval import retrieve
from sources.tests.test_formats import RTF_FILE, epub_file, odt_file, pptx_file, xlsx_file


def _upload(client, bot, name, data):
    return client.post(
        "/v1/sources/upload",
        {"file": SimpleUploadedFile(name, data), "bot_profile_id": str(bot.pk)},
        format="multipart",
    )


def _chunks(source_id) -> list[tuple[str, int | None, str]]:
    return list(Chunk.objects.filter(source_id=source_id).order_by("order").values_list("section", "page", "content"))


@pytest.mark.django_db
def test_uploaded_pptx_and_rst_are_ingested_with_sections_and_pages(
    tenant_a, django_capture_on_commit_callbacks, settings
):
    settings.CHUNK_SIZE_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 24, 0  # small chunks: one slide or two each
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Formats bot")
    client = tenant_a.client()
    with django_capture_on_commit_callbacks(execute=True):
        deck = _upload(client, bot, "Migration.pptx", pptx_file())
        guide = _upload(client, bot, "guide.rst", b"Guide\n=====\n\nSetup\n-----\n\nTurn the brass key twice.\n")
    assert deck.status_code == 201 and guide.status_code == 201, (deck.content, guide.content)

    for created in (deck.json(), guide.json()):
        source = client.get(f"/v1/sources/{created['id']}").json()
        assert source["status"] == "ready", source["error_message"]
    with tenant_context(tenant_a.tenant):
        slides = {page: section for section, page, _ in _chunks(deck.json()["id"])}
        assert slides[2] == "Migration.pptx › Slide 2: Routes" and slides[3] == "Migration.pptx › Slide 3: Counts"
        assert _chunks(guide.json()["id"]) == [
            ("Guide › Setup", None, "# Guide\n\n## Setup\n\nTurn the brass key twice.")
        ]
        assert "brass key" in retrieve(bot=bot, query="how many times to turn the brass key")[0].content


@pytest.mark.django_db
def test_a_refused_type_names_the_accepted_ones(tenant_a):
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Formats bot")

    response = _upload(tenant_a.client(), bot, "setup.exe", b"MZ")

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("Unsupported file type: .exe. Allowed: ")
    allowed = set(detail.split("Allowed: ")[1].split(", "))
    assert {".pdf", ".docx", ".pptx", ".xlsx", ".odt", ".epub", ".rtf", ".json", ".rst", ".py", ".yaml"} <= allowed


@pytest.fixture
def command_bot(tenant_rows_restored_at_session_end, tenant_a):
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Folder bot")
    yield bot
    with tenant_context(tenant_a.tenant):  # committed rows in the tenant schema are not flushed
        BotProfile.objects.filter(pk=bot.pk).delete()


def _ingest(folder) -> str:
    out = io.StringIO()
    call_command("ingest", "--tenant", "tenant-a", "--bot", "Folder bot", "--no-progress", str(folder), stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_ingest_takes_every_new_format_from_a_folder_and_ignores_hidden_and_dependency_folders(
    tmp_path, tenant_a, command_bot, settings
):
    settings.CHUNK_SIZE_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 24, 0
    folder = tmp_path / "kb"
    files = {
        "slides/deck.pptx": pptx_file(),
        "data/stock.xlsx": xlsx_file(),
        "ferries.odt": odt_file(),
        "book.epub": epub_file(),
        "cafe.rtf": RTF_FILE,
        "api.json": b'{"servers": [{"host": "a.example", "port": 443}]}',
        "src/tide.py": b"# Tide tables\ndef high_water():\n    return '06:12'\n",
        "guide.rst": b"Guide\n=====\n\nThe lighthouse opens at noon.\n",
        "node_modules/left-pad/index.js": b"module.exports = 1;\n",
        ".git/hooks/config.json": b"{}",
        "notes/.draft.md": b"# Draft\n",
        "logo.png": b"\x89PNG",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    out = _ingest(folder)

    assert "created 8, updated 0, unchanged 0, retired 0, failed 0" in out, out
    assert "Skipped 1 file(s) with unsupported types." in out
    assert "Ignored 3 file(s) in hidden or dependency folders" in out
    with tenant_context(tenant_a.tenant):
        sources = {source.name: source for source in Source.objects.filter(bot_profile=command_bot)}
        assert set(sources) == {f"kb/{name}" for name in list(files)[:8]}
        assert {source.status for source in sources.values()} == {SourceStatus.READY}
        code = _chunks(sources["kb/src/tide.py"].pk)
        assert code == [
            ("kb/src/tide.py", None, "```python\n# Tide tables\ndef high_water():\n    return '06:12'\n```")
        ]
        assert ("kb/slides/deck.pptx › Slide 3: Counts", 3) in {
            chunk[:2] for chunk in _chunks(sources["kb/slides/deck.pptx"].pk)
        }
        assert "Spring count" in retrieve(bot=command_bot, query="when was the spring count")[0].content
    # Nothing changed: a second run changes nothing.
    assert "created 0, updated 0, unchanged 8, retired 0, failed 0" in _ingest(folder)
