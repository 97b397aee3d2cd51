"""The console's source page: what the bot knows from one source, a page at a time.

The live version's chunks are shown CHUNKS_PER_PAGE at a time, in order, with their page, section, offsets and
tokens, above the extracted text they cover. The text is not stored apart from the chunks: by the chunker's
contract (sources.pipeline.chunking) chunk `i` is `table_header + text[start:end]` and consecutive chunks touch
or overlap, so the text of a page of chunks is their bodies joined with the overlaps removed. A page costs three
queries whatever the size of the source: the source with its live version, its children's count (a top-level
source), and one page of chunks read by the (document, order) index (orders run 0…chunk_count-1).
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from sources.models import Chunk, Document, Source

CHUNKS_PER_PAGE = 20
PAGE_VAR = "chunks"  # ?chunks=<n> on the source page


@dataclass(frozen=True)
class ChunkView:
    order: int
    page: int | None
    section: str
    char_start: int
    char_end: int
    token_count: int
    table_header: str  # the table header rows the chunk repeats (not part of the text at its offsets)
    body: str  # text[char_start:char_end]


@dataclass(frozen=True)
class SourceKnowledge:
    document: Document | None
    children: int = 0  # a batch parent's child sources (crawled pages, files)
    page: int = 1
    pages: int = 0
    chunks: list[ChunkView] = field(default_factory=list)
    text: str = ""  # the extracted text the page's chunks cover, overlaps removed
    text_start: int = 0
    text_end: int = 0

    @property
    def page_numbers(self) -> list[int]:
        """A bounded pager: the first, the last, and the pages around this one (0 marks a gap)."""
        shown = sorted({1, self.pages, *range(max(1, self.page - 3), min(self.pages, self.page + 3) + 1)})
        numbers: list[int] = []
        for number in shown:
            if numbers and number - numbers[-1] > 1:
                numbers.append(0)
            numbers.append(number)
        return numbers


def page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def source_knowledge(*, source_id, page: int = 1) -> SourceKnowledge | None:
    """One page of the source's live chunks and the text they cover; None for an unknown or malformed id."""
    try:
        source = Source.objects.select_related("current_document").filter(pk=source_id).first()
    except (ValueError, ValidationError):
        return None
    if source is None:
        return None
    document = source.current_document
    children = Source.objects.filter(parent=source).count() if source.parent_id is None else 0
    if document is None or document.chunk_count == 0:
        return SourceKnowledge(document=document, children=children)
    pages = -(-document.chunk_count // CHUNKS_PER_PAGE)
    page = min(page, pages)
    first = (page - 1) * CHUNKS_PER_PAGE
    rows = Chunk.objects.filter(document=document, order__gte=first, order__lt=first + CHUNKS_PER_PAGE).order_by(
        "order"
    )
    chunks = [_chunk_view(chunk) for chunk in rows]
    text, start, end = joined_text(chunks)
    return SourceKnowledge(
        document=document, children=children, page=page, pages=pages, chunks=chunks, text=text, text_start=start,
        text_end=end,
    )  # fmt: skip


def _chunk_view(chunk: Chunk) -> ChunkView:
    length = chunk.char_end - chunk.char_start
    header_length = max(0, len(chunk.content) - length)
    return ChunkView(
        order=chunk.order,
        page=chunk.page,
        section=chunk.section,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        token_count=chunk.token_count,
        table_header=chunk.content[:header_length],
        body=chunk.content[header_length:],
    )


def joined_text(chunks: list[ChunkView]) -> tuple[str, int, int]:
    """The text `chunks` (consecutive, in order) cover, each overlap kept once, with its offsets."""
    if not chunks:
        return "", 0, 0
    parts, covered = [], chunks[0].char_start
    for chunk in chunks:
        if chunk.char_end <= covered:
            continue
        parts.append(chunk.body[max(0, covered - chunk.char_start) :])
        covered = chunk.char_end
    return "".join(parts), chunks[0].char_start, covered
