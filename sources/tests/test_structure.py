"""Document structure through ingestion: chunks carry their heading path (stored, indexed, returned by
retrieval), tables stay readable in every chunk, and re-chunking follows a chunker change."""

from django.core.files.base import ContentFile

from bots.tests.factories import BotProfileFactory
from sources import services
from sources.models import Chunk, SourceStatus, SourceType
from sources.pipeline import ingest as pipeline
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory

HANDBOOK = """# Employee handbook

Welcome to the company. This handbook answers everyday questions.

## IT

### Lost devices

Report it to the service desk on the same day, by phone or in person.

The service desk wipes the machine remotely and orders a replacement, which usually arrives within three
working days.

## Travel

Book trains and flights through the travel desk at least two weeks ahead.
"""


def _ingest(run_on_commit, source):
    run_on_commit(services.source_ingest, source=source)
    source.refresh_from_db()
    return source


def test_chunks_store_their_heading_path_and_a_heading_finds_its_chunk(in_tenant, run_on_commit, settings):
    settings.CHUNK_SIZE_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 40, 0
    bot = BotProfileFactory()
    source = _ingest(run_on_commit, SourceFactory(bot_profile=bot, content=HANDBOOK, name="handbook.md"))
    assert source.status == SourceStatus.READY

    chunks = list(Chunk.objects.filter(source=source).order_by("order"))
    assert chunks[0].section == "Employee handbook"  # the opening H1 is the title, not the source name
    sections = {chunk.content: chunk.section for chunk in chunks}
    wipes = next(content for content in sections if "wipes the machine" in content)
    assert "Lost devices" not in wipes and sections[wipes] == "Employee handbook › IT › Lost devices"
    # "lost" and "devices" are only in the heading above that chunk: it is found through its section.
    results = retrieve(bot=bot, query="lost devices", top_k=5)
    found = next(result for result in results if "wipes the machine" in result.content)
    assert found.section == "Employee handbook › IT › Lost devices"
    assert all("Travel" not in result.section for result in results)


def test_a_csv_upload_is_chunked_with_its_header_in_every_chunk(in_tenant, run_on_commit, settings):
    settings.CHUNK_SIZE_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 60, 10
    bot = BotProfileFactory()
    rows = "\n".join(f"Office {n},{4000 + n},Floor {n % 7}" for n in range(80))
    source = SourceFactory(bot_profile=bot, source_type=SourceType.UPLOAD, content="", name="phones.csv")
    source.file.save("phones.csv", ContentFile(f"Office,Extension,Floor\n{rows}\n".encode()), save=True)

    source = _ingest(run_on_commit, source)

    assert source.status == SourceStatus.READY and source.chunk_count > 3
    for chunk in Chunk.objects.filter(source=source).order_by("order"):
        assert chunk.content.startswith("| Office | Extension | Floor |\n|---|---|---|\n")
        assert chunk.content.rstrip("\n").endswith("|") and chunk.token_count <= 60
        assert chunk.section == "phones.csv"
    top = retrieve(bot=bot, query="extension of office 42")[0]
    assert "| Office 42 | 4042 | Floor 0 |" in top.content


def test_a_chunker_change_reindexes_an_unchanged_source(in_tenant, run_on_commit, monkeypatch):
    source = _ingest(run_on_commit, SourceFactory(content=HANDBOOK))
    first_document = source.current_document_id

    monkeypatch.setattr(pipeline, "CHUNKING_VERSION", "test-next")
    source = _ingest(run_on_commit, source)

    assert source.status == SourceStatus.READY and source.current_document_id != first_document
