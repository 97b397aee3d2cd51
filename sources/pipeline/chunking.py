"""Structure-aware, token-sized chunking with exact character offsets.

Contract (property-tested in sources/tests/test_chunking.py):
- no chunk has more than `chunk_size` tokens (cl100k_base), its repeated table header included;
- chunk `i`'s text is exactly `table_header + text[start:end]`; consecutive chunks touch or overlap, so every
  character of the input is covered; chunk texts keep punctuation and paragraph breaks verbatim;
- consecutive chunks overlap by at most `overlap` tokens;
- no chunk starts mid-sentence: every chunk after the first starts at a sentence, line or paragraph start
  (the overlap starts at the furthest-back such start that fits the overlap budget, or there is no overlap);
  only a single sentence longer than `chunk_size` is cut inside, at a clause, then a word boundary;
- cuts fall on the strongest structure available: before a Markdown heading, then paragraph breaks, line
  breaks, sentence ends — in the second half of a chunk if there is one there, else at the last sentence
  end before it — and never mid-word, unless one "word" alone exceeds `chunk_size`;
- Markdown tables (a `| … |` header row, a `|---|` separator row, then `| … |` rows) are cut between rows
  only (inside a row only when that row alone exceeds `chunk_size`), never between the header and its
  separator; a chunk that starts inside a table's rows repeats the header and separator rows first
  (`table_header`), unless they take more than half the chunk or leave no room for the first row;
- `section` is "title › heading › subheading": the Markdown headings in force where the chunk's own text
  starts (a heading the chunk starts with included), after the document title; a `# ` heading opening the
  text is the title. Headings inside fenced code blocks are ignored.

It works lazily (a generator over a generator of pieces), so a 50 MB text never exists as a token list;
tables and headings are found in one linear scan each (structure.py).
"""

import bisect
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from minirag.tokenizer import count_tokens
from sources.pipeline.structure import MarkdownTables, SectionPath, section_at

__all__ = ["CHUNKING_VERSION", "TextChunk", "chunk_text", "section_at"]  # section_at: re-exported

# Bump when the chunks a text gives change: it is part of every source's index signature, forcing a re-index.
CHUNKING_VERSION = "2"
# Level 0 splits *before* the match; the others split right *after* it (the separator stays with the
# text before it, so nothing is lost).
_HEADING = re.compile(r"^#{1,6}[ \t]", re.MULTILINE)
_SENTENCE_END = r"[.!?…。！？][\"'”’)\]]*\s+"
_SPLITTERS = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph break
    re.compile(r"\n\s*"),  # line break
    re.compile(_SENTENCE_END),  # sentence end
    re.compile(r"[;:,][\"'”’)\]]*\s+"),  # clause
    re.compile(r"\s+"),  # word boundary
)
_LEVEL_COUNT = 1 + len(_SPLITTERS)
_LINE = 2  # the line-break level: table rows are lines
_SENTENCE = 3  # a boundary at this level or a stronger one starts a new sentence
_HARD = _LEVEL_COUNT  # a cut inside a word (only when one word exceeds the chunk size)
# Where a sentence, line or paragraph starts (the end of a match); headings start lines too.
_SENTENCE_START = re.compile(rf"\n\s*|{_SENTENCE_END}")
# A span longer than this many characters per allowed token is split without counting it first.
_MAX_CHARS_PER_TOKEN_GUESS = 8


@dataclass(frozen=True)
class TextChunk:
    order: int
    start: int
    end: int
    text: str  # table_header + the source text[start:end]
    token_count: int
    page: int | None
    section: str = ""
    table_header: str = ""  # the header and separator rows of the table this chunk continues, repeated


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int
    end_level: int  # strength of the boundary after this piece (lower = stronger)


def _cut_points(
    text: str, start: int, end: int, level: int, tables: MarkdownTables, *, oversized: bool = False
) -> list[int]:
    """Where the span may be cut at `level`. Never between a table's header row and its separator row — unless
    the span is `oversized` (larger than a chunk) and there is nowhere else to cut at this level."""
    if level == 0:
        return [m.start() for m in _HEADING.finditer(text, start, end) if start < m.start() < end]
    pattern = _SPLITTERS[level - 1]
    cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]
    if tables and level <= _LINE and cuts:
        kept = [cut for cut in cuts if not tables.in_header_block(cut)]
        if kept or not oversized:
            return kept
    return cuts


def _hard_split(text: str, start: int, end: int, size: int) -> Iterator[tuple[int, int, int]]:
    """Split a span without any usable boundary into runs of at most `size` tokens."""
    position = start
    while position < end:
        low, high = position + 1, min(end, position + size * _MAX_CHARS_PER_TOKEN_GUESS)
        best = low
        while low <= high:  # the longest prefix that fits
            middle = (low + high) // 2
            if count_tokens(text[position:middle]) <= size:
                best, low = middle, middle + 1
            else:
                high = middle - 1
        yield position, best, count_tokens(text[position:best])
        position = best


def _pieces(
    text: str, start: int, end: int, size: int, level: int, end_level: int, tables: MarkdownTables
) -> Iterator[_Piece]:
    if end - start <= size * _MAX_CHARS_PER_TOKEN_GUESS:
        tokens = count_tokens(text[start:end])
        if tokens <= size:
            yield _Piece(start, end, tokens, end_level)
            return
    while level < _LEVEL_COUNT:
        cuts = _cut_points(text, start, end, level, tables, oversized=True)
        if cuts:
            bounds = [start, *cuts, end]
            # A table's header block, kept whole at the line level, may still need that level's cut inside.
            child_level = level if tables and level == _LINE else level + 1
            for index in range(len(bounds) - 1):
                child_end_level = level if index < len(bounds) - 2 else end_level
                yield from _pieces(text, bounds[index], bounds[index + 1], size, child_level, child_end_level, tables)
            return
        level += 1
    spans = list(_hard_split(text, start, end, size))
    for index, (piece_start, piece_end, tokens) in enumerate(spans):
        yield _Piece(piece_start, piece_end, tokens, _HARD if index < len(spans) - 1 else end_level)


def _subdivide(text: str, piece: _Piece, tables: MarkdownTables) -> list[_Piece]:
    """Split a piece at its strongest inner boundary — a paragraph, line or sentence boundary, never inside a
    sentence or a table row — to fill a half-empty chunk."""
    for level in range(1, _SENTENCE + 1):
        cuts = _cut_points(text, piece.start, piece.end, level, tables)
        if tables and level == _SENTENCE:
            cuts = [cut for cut in cuts if tables.at_row_start(cut)]
        if cuts:
            bounds = [piece.start, *cuts, piece.end]
            return [
                _Piece(
                    bounds[i],
                    bounds[i + 1],
                    count_tokens(text[bounds[i] : bounds[i + 1]]),
                    level if i < len(bounds) - 2 else piece.end_level,
                )
                for i in range(len(bounds) - 1)
            ]
    return [piece]


def _overlap_start(
    text: str, chunk_start: int, chunk_end: int, overlap: int, tables: MarkdownTables
) -> tuple[int, int]:
    """The furthest-back sentence, line or paragraph start in the chunk (not inside a table row) whose tail to
    `chunk_end` has at most `overlap` tokens; (chunk_end, 0) — no overlap — when none fits."""
    if overlap <= 0:
        return chunk_end, 0
    window_start = max(chunk_start + 1, chunk_end - overlap * _MAX_CHARS_PER_TOKEN_GUESS)
    candidates = [
        m.end()
        for m in _SENTENCE_START.finditer(text, window_start, chunk_end)
        if m.end() < chunk_end and (not tables or tables.at_row_start(m.end()))
    ]
    best, best_tokens = chunk_end, 0
    low, high = 0, len(candidates) - 1
    while low <= high:  # token counts shrink as the start moves right
        middle = (low + high) // 2
        tokens = count_tokens(text[candidates[middle] : chunk_end])
        if tokens <= overlap:
            best, best_tokens, high = candidates[middle], tokens, middle - 1
        else:
            low = middle + 1
    return best, best_tokens


class _PageIndex:
    def __init__(self, page_starts: Sequence[tuple[int, int]] | None):
        pairs = sorted(page_starts or [])
        self.offsets = [offset for offset, _ in pairs]
        self.numbers = [number for _, number in pairs]

    def page_at(self, offset: int) -> int | None:
        if not self.offsets:
            return None
        index = bisect.bisect_right(self.offsets, offset) - 1
        return self.numbers[max(index, 0)]


def _ends_with_heading(text: str, piece: _Piece) -> bool:
    end = piece.end
    while end > piece.start and text[end - 1].isspace():
        end -= 1
    line_start = max(piece.start, text.rfind("\n", piece.start, end) + 1)  # within the piece: linear overall
    return _HEADING.match(text, line_start) is not None and (line_start == 0 or text[line_start - 1] == "\n")


def _after_leading_headings(text: str, position: int, end: int) -> int:
    """Where the text under the headings a chunk opens with starts (`position` when it opens with none)."""
    while position < end and (position == 0 or text[position - 1] == "\n") and _HEADING.match(text, position):
        line_end = text.find("\n", position, end)
        if line_end == -1:
            return position
        position = line_end
        while position < end and text[position].isspace():
            position += 1
    return position


def _choose_cut(text: str, pieces: list[_Piece], lead_tokens: int, chunk_size: int) -> tuple[int, bool]:
    """(index of the last piece to keep, whether that cut ends a sentence or a stronger unit).

    The strongest boundary in the second half of the chunk, else the last one; a sentence end in the first
    half rather than a clause or word boundary in the second; never right after a heading (the heading goes
    with the text under it), unless the chunk holds nothing else."""
    eligible = [index for index, piece in enumerate(pieces) if not _ends_with_heading(text, piece)]
    if not eligible:
        return len(pieces) - 1, pieces[-1].end_level <= _SENTENCE
    cut = eligible[-1]
    best_level = pieces[cut].end_level
    running = lead_tokens
    position = 0
    for index, piece in enumerate(pieces):
        running += piece.tokens
        if position < len(eligible) and eligible[position] == index:
            position += 1
            if running >= chunk_size // 2 and piece.end_level < best_level:
                cut, best_level = index, piece.end_level
    if best_level <= _SENTENCE:
        return cut, True
    sentence_ends = [index for index in eligible if pieces[index].end_level <= _SENTENCE]
    if sentence_ends:  # a sentence end in the first half beats a clause in the second
        return sentence_ends[-1], True
    return cut, False


class _ChunkWriter:
    """The state of `chunk_text` between chunks: the pieces waiting (`pending`, then the lazy `stream`), the
    pieces of the chunk being filled (`current`) and its lead — the overlap carried from the previous chunk
    (`chunk_start` may lie before the first piece's start) and the table header it repeats."""

    def __init__(
        self, text: str, chunk_size: int, overlap: int, page_starts: Sequence[tuple[int, int]] | None, title: str
    ):
        self.text = text
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.pages = _PageIndex(page_starts)
        self.tables = MarkdownTables(text, chunk_size)
        self.sections = SectionPath(text, title)
        self.pending: deque[_Piece] = deque()
        self.stream = _pieces(text, 0, len(text), chunk_size, 0, 0, self.tables)
        self.order = 0
        self.chunk_start = 0
        self.overlap_tokens = 0
        self.header, self.header_tokens = "", 0
        self.current: list[_Piece] = []
        self.current_tokens = 0

    def chunks(self) -> Iterator[TextChunk]:
        while True:
            piece = self.next_piece()
            if piece is None:
                if not self.current:
                    break
                chunk = self.emit()  # the last chunk; pieces it gives back come round again
                if chunk is not None:
                    yield chunk
                continue
            lead = self.overlap_tokens + self.header_tokens
            if self.current and lead + self.current_tokens + piece.tokens > self.chunk_size:
                if lead + self.current_tokens < self.chunk_size // 2:
                    parts = _subdivide(self.text, piece, self.tables)
                    if len(parts) > 1:  # fill the chunk with the first part(s) of a big piece instead
                        self.pending.extendleft(reversed(parts))
                        continue
                self.pending.appendleft(piece)
                chunk = self.emit()
                if chunk is not None:
                    yield chunk
                continue
            self.add(piece)

    def next_piece(self) -> _Piece | None:
        if self.pending:
            return self.pending.popleft()
        return next(self.stream, None)

    def add(self, piece: _Piece) -> None:
        if not self.current:
            if self.chunk_start > piece.start:
                self.start_at(piece.start, 0)
            if self.overlap_tokens and self.overlap_tokens + self.header_tokens + piece.tokens > self.chunk_size:
                self.start_at(piece.start, 0)  # no room for the overlap before this piece
            if self.header and self.header_tokens + piece.tokens > self.chunk_size:
                self.header, self.header_tokens = "", 0  # nor for the repeated header
        self.current.append(piece)
        self.current_tokens += piece.tokens

    def start_at(self, position: int, carried_tokens: int) -> None:
        self.chunk_start, self.overlap_tokens = position, carried_tokens
        self.header, self.header_tokens = self.tables.header_at(position) if self.tables else ("", 0)

    def drop_lead(self) -> bool:
        """Give up the overlap, else the repeated header, to make room; False when there is neither."""
        if self.current and self.chunk_start < self.current[0].start:
            self.start_at(self.current[0].start, 0)
            return True
        if self.header:
            self.header, self.header_tokens = "", 0
            return True
        return False

    def emit(self) -> TextChunk | None:
        """The chunk of the pieces so far (the rest goes back to `pending`); None when the overlap or the
        repeated header had to go so that the chunk ends at a sentence end — it is then refilled."""
        text, current = self.text, self.current
        cut, ends_sentence = _choose_cut(text, current, self.overlap_tokens + self.header_tokens, self.chunk_size)
        if not ends_sentence and self.drop_lead():
            self.pending.extendleft(reversed(current))
            self.current, self.current_tokens = [], 0
            return None
        for piece in reversed(current[cut + 1 :]):
            self.pending.appendleft(piece)
        del current[cut + 1 :]
        end, actual = self._shed_to_fit()
        body = text[self.chunk_start : end]
        first_visible = self.chunk_start + (len(body) - len(body.lstrip()))
        chunk = TextChunk(
            order=self.order,
            start=self.chunk_start,
            end=end,
            text=self.header + body,
            token_count=actual,
            page=self.pages.page_at(first_visible),
            section=self.sections.at(_after_leading_headings(text, first_visible, end)),
            table_header=self.header,
        )
        self.order += 1
        self.start_at(*_overlap_start(text, self.chunk_start, end, self.overlap, self.tables))
        self.current, self.current_tokens = [], 0
        return chunk

    def _shed_to_fit(self) -> tuple[int, int]:
        """(end, token count) of the chunk, after shedding pieces back to `pending` until it fits: token counts
        are not exactly additive."""
        text, current = self.text, self.current
        end = current[-1].end
        actual = count_tokens(self.header + text[self.chunk_start : end])
        while actual > self.chunk_size:
            if len(current) > 1:
                self.pending.appendleft(current.pop())
                while len(current) > 1 and _ends_with_heading(text, current[-1]):
                    self.pending.appendleft(current.pop())  # a heading goes with the text under it
            elif not self.drop_lead():  # cannot happen: every piece fits on its own
                break
            end = current[-1].end
            actual = count_tokens(self.header + text[self.chunk_start : end])
        return end, actual


def chunk_text(
    text: str,
    *,
    chunk_size: int,
    overlap: int,
    page_starts: Sequence[tuple[int, int]] | None = None,
    title: str = "",
) -> Iterator[TextChunk]:
    """Yield chunks of `text` in order. `page_starts` is [(char_offset, page_number)] for paginated sources;
    `title` (the source's name) opens every chunk's section unless the text opens with a `# ` heading."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    overlap = max(0, min(overlap, chunk_size // 2))
    if not text:
        return
    yield from _ChunkWriter(text, chunk_size, overlap, page_starts, title).chunks()
