"""The console's sources list (search, filters by bot, type and status, pages) costs the same number of queries
however many sources a tenant has; a source's page shows what the bot knows from it — the live chunks a page at
a time, with pages and sections, and the extracted text they cover — and, for a failed source, why it failed."""

import re
from datetime import timedelta

import lxml.html
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources import services
from sources.console_source import CHUNKS_PER_PAGE, joined_text, source_knowledge
from sources.models import Chunk, Source
from sources.pipeline.extract import extract_by_kind

pytestmark = pytest.mark.django_db

TYPES = ["text", "url", "upload"]
STATUSES = ["ready", "ready", "error", "pending", "processing"]


@pytest.fixture
def bots(tenant_a):
    with tenant_context(tenant_a.tenant):
        return [BotProfile.objects.create(name=f"Console bot {n}") for n in range(3)]


def _add_sources(tenant, bots, count: int, *, start: int = 0) -> None:
    now = timezone.now()
    with tenant_context(tenant):
        Source.objects.bulk_create(
            [
                Source(
                    bot_profile=bots[n % len(bots)],
                    name=f"handbook/chapter-{n:05d}.md",
                    external_id=f"docs/chapter-{n:05d}.md",
                    source_type=TYPES[n % len(TYPES)],
                    status=STATUSES[n % len(STATUSES)],
                    error_message="Fetching failed: HTTP 503" if STATUSES[n % len(STATUSES)] == "error" else None,
                    content="x",
                    created_at=now - timedelta(seconds=n),
                )
                for n in range(start, start + count)
            ]
        )


def _list_urls(bots) -> list[str]:
    base = "/admin/sources/source/?tenant=tenant-a"
    return [
        base,
        f"{base}&p=2",
        f"{base}&q=chapter-0004",
        f"{base}&bot_profile__id__exact={bots[1].pk}",
        f"{base}&source_type__exact=url",
        f"{base}&status__exact=error",
        f"{base}&bot_profile__id__exact={bots[0].pk}&status__exact=ready&source_type__exact=text&q=chapter",
    ]


def _query_counts(operator, urls) -> list[int]:
    counts = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = operator.get(url)
        assert response.status_code == 200, url
        counts.append(len(queries))
    return counts


def test_the_sources_list_costs_the_same_queries_for_55_and_600_sources(operator, tenant_a, bots):
    _add_sources(tenant_a.tenant, bots, 55)  # page 2 holds 5 rows, a bot's filter about 18
    small = _query_counts(operator, _list_urls(bots))

    _add_sources(tenant_a.tenant, bots, 545, start=55)  # every page full
    large = _query_counts(operator, _list_urls(bots))

    assert large == small
    assert max(large) <= 12


def test_the_sources_list_filters_by_bot_type_and_status_and_searches_names_and_keys(operator, tenant_a, bots):
    _add_sources(tenant_a.tenant, bots, 60)
    base = "/admin/sources/source/?tenant=tenant-a"

    def names(query: str) -> set[str]:
        page = operator.get(f"{base}&{query}").content.decode()
        return set(re.findall(r"handbook/chapter-(\d{5})\.md", page))

    by_bot = names(f"bot_profile__id__exact={bots[1].pk}")
    assert by_bot and all(int(n) % 3 == 1 for n in by_bot)
    by_type = names("source_type__exact=url")
    assert by_type and all(int(n) % 3 == 1 for n in by_type)
    by_status = names("status__exact=error")
    assert by_status and all(int(n) % 5 == 2 for n in by_status)
    assert names("q=chapter-00042") == {"00042"}
    assert names("q=docs/chapter-00017") == {"00017"}  # the external id
    page_two = names("p=2")
    assert len(page_two) == 10 and "00059" in page_two  # 50 per page, newest first
    filters = operator.get(base).content.decode()
    assert all(f"?bot_profile__id__exact={bot.pk}" in filters for bot in bots)


LONG_TEXT = "\n\n".join(
    f"# Chapter {c}\n\n"
    + "\n\n".join(
        f"## Part {c}.{p}\n\n"
        + " ".join(f"Sentence {c}.{p}.{s} says the quokka number {c * 100 + p * 10 + s} is kept." for s in range(12))
        for p in range(4)
    )
    for c in range(8)
)


@pytest.fixture
def ingested(tenant_a, settings, run_on_commit):
    settings.DEFAULT_EMBEDDING_MODEL = ""
    settings.CHUNK_SIZE_TOKENS = 120
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Quokka bot")
        source = Source.objects.create(bot_profile=bot, name="Quokka facts", source_type="text", content=LONG_TEXT)
        run_on_commit(services.source_ingest, source=source, trigger="test")
        source.refresh_from_db()
    assert source.status == "ready" and source.chunk_count > 2 * CHUNKS_PER_PAGE
    return source


def test_a_source_page_shows_its_chunks_with_sections_and_the_text_they_cover(operator, tenant_a, ingested):
    page = operator.get(f"/admin/sources/source/{ingested.pk}/change/?tenant=tenant-a")

    html = lxml.html.fromstring(page.content)
    assert page.status_code == 200
    chunks = html.xpath('//*[@class="source-chunk"]')
    assert len(chunks) == CHUNKS_PER_PAGE and chunks[0].get("id") == "chunk-0"
    assert "Quokka facts" not in chunks[0].text_content()  # no document title in a text source's section
    assert "Chapter 0 › Part 0.1" in page.content.decode()
    text = html.xpath('//*[@id="source-text"]')[0].text_content()
    assert text.startswith("# Chapter 0") and "Sentence 0.1.3 says" in text
    assert f"?chunks={ingested.chunk_count // CHUNKS_PER_PAGE + 1}" in page.content.decode()  # the last page

    second = lxml.html.fromstring(
        operator.get(f"/admin/sources/source/{ingested.pk}/change/?tenant=tenant-a&chunks=2").content
    )
    assert second.xpath('//*[@class="source-chunk"]')[0].get("id") == f"chunk-{CHUNKS_PER_PAGE}"


def test_the_pages_of_text_join_into_exactly_the_extracted_text(tenant_a, ingested):
    extracted = extract_by_kind("text", LONG_TEXT.encode()).text
    with tenant_context(tenant_a.tenant):
        pages = -(-ingested.chunk_count // CHUNKS_PER_PAGE)
        knowledge = [source_knowledge(source_id=ingested.pk, page=n) for n in range(1, pages + 1)]
        every_chunk = [chunk for page in knowledge for chunk in page.chunks]

    assert [chunk.order for chunk in every_chunk] == list(range(ingested.chunk_count))
    whole, start, end = joined_text(every_chunk)
    assert whole == extracted[start:end] and extracted[:start].strip() == "" and extracted[end:].strip() == ""
    # Page by page: each page's text is its slice of the whole, overlaps with the previous page included.
    for page in knowledge:
        assert page.text == extracted[page.text_start : page.text_end]


def test_a_source_page_costs_the_same_queries_for_a_small_and_a_large_source(
    operator, tenant_a, ingested, run_on_commit
):
    with tenant_context(tenant_a.tenant):
        small = Source.objects.create(
            bot_profile=ingested.bot_profile, name="Small", source_type="text", content="One quokka."
        )
        run_on_commit(services.source_ingest, source=small, trigger="test")
    urls = [f"/admin/sources/source/{source.pk}/change/?tenant=tenant-a" for source in (small, ingested)]

    small_count, large_count = _query_counts(operator, urls)
    deep_count, out_of_range = _query_counts(operator, [f"{urls[1]}&chunks=3", f"{urls[1]}&chunks=999"])

    assert small_count == large_count == deep_count == out_of_range <= 14


def test_a_long_text_source_shows_a_bounded_preview_of_its_content(operator, tenant_a, bots):
    with tenant_context(tenant_a.tenant):
        source = Source.objects.create(
            bot_profile=bots[0], name="Huge paste", source_type="text", content="quokka " * 40_000
        )

    page = operator.get(f"/admin/sources/source/{source.pk}/change/?tenant=tenant-a").content.decode()

    assert page.count("quokka") < 500 and "more characters" in page
    assert "No indexed version yet" in page


def test_a_failed_source_shows_why_to_the_operator_and_the_tenant_reads_the_same_safe_message(
    operator, tenant_a, bots, run_on_commit
):
    with tenant_context(tenant_a.tenant):
        source = Source.objects.create(bot_profile=bots[0], name="Empty", source_type="text", content="   ")
        run_on_commit(services.source_ingest, source=source, trigger="test")
        source.refresh_from_db()
    assert source.status == "error"

    page = lxml.html.fromstring(operator.get(f"/admin/sources/source/{source.pk}/change/?tenant=tenant-a").content)
    shown = page.xpath('//*[@id="source-failure"]')[0].text_content()

    assert source.error_message in shown and "empty" in shown
    assert tenant_a.client().get(f"/v1/sources/{source.pk}").json()["error_message"] == source.error_message


def test_a_batch_page_links_to_its_children(operator, tenant_a, bots):
    with tenant_context(tenant_a.tenant):
        parent = Source.objects.create(bot_profile=bots[0], name="Site", source_type="url", config={"url": "x"})
        for n in range(3):
            Source.objects.create(bot_profile=bots[0], parent=parent, name=f"page {n}", source_type="url")
        Source.objects.create(bot_profile=bots[0], name="Unrelated page", source_type="url")

    page = operator.get(f"/admin/sources/source/{parent.pk}/change/?tenant=tenant-a").content.decode()
    link = f"/admin/sources/source/?parent__id__exact={parent.pk}"
    children = operator.get(link).content.decode()

    assert link in page and "3 child sources" in page
    assert all(f"page {n}" in children for n in range(3)) and "Unrelated page" not in children


def test_chunk_rows_are_what_the_page_shows(tenant_a, ingested):
    # The page strips a repeated table header from a chunk's body; a text with no table has none.
    with tenant_context(tenant_a.tenant):
        knowledge = source_knowledge(source_id=ingested.pk, page=1)
        first = Chunk.objects.get(document=ingested.current_document, order=0)
    assert knowledge.chunks[0].body == first.content and knowledge.chunks[0].table_header == ""
    assert source_knowledge(source_id="not-a-uuid") is None
