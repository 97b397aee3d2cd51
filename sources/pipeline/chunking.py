"""Structure-aware, token-sized chunking with exact character offsets.

Contract (property-tested in sources/tests/test_chunking.py):
- no chunk has more than `chunk_size` tokens (cl100k_base);
- chunk `i` is exactly `text[start:end]`; consecutive chunks touch or overlap, so every character of the
  input is covered; chunk texts keep punctuation and paragraph breaks verbatim;
- consecutive chunks overlap by at most `overlap` tokens, starting at a word boundary;
- cuts fall on the strongest structure available: before a Markdown heading, then paragraph breaks, line
  breaks, sentence ends, and whitespace — never mid-word, unless one "word" alone exceeds `chunk_size`.

It works lazily (a generator over a generator of pieces), so a 50 MB text never exists as a token list.
"""

import bisect
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from minirag.tokenizer import count_tokens

# Level 0 splits *before* the match; the others split right *after* it (the separator stays with the
# text before it, so nothing is lost).
_HEADING = re.compile(r"^#{1,6}[ \t]", re.MULTILINE)
_SPLITTERS = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph break
    re.compile(r"\n\s*"),  # line break
    re.compile(r"[.!?…。！？][\"'”’)\]]*\s+"),  # sentence end
    re.compile(r"[;:,][\"'”’)\]]*\s+"),  # clause
    re.compile(r"\s+"),  # word boundary
)
_LEVEL_COUNT = 1 + len(_SPLITTERS)
_HARD = _LEVEL_COUNT  # a cut inside a word (only when one word exceeds the chunk size)
_WORD_START = re.compile(r"(?<=\s)\S")
# A span longer than this many characters per allowed token is split without counting it first.
_MAX_CHARS_PER_TOKEN_GUESS = 8


@dataclass(frozen=True)
class TextChunk:
    order: int
    start: int
    end: int
    text: str
    token_count: int
    page: int | None


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int
    end_level: int  # strength of the boundary after this piece (lower = stronger)


def _cut_points(text: str, start: int, end: int, level: int) -> list[int]:
    if level == 0:
        return [m.start() for m in _HEADING.finditer(text, start, end) if start < m.start() < end]
    pattern = _SPLITTERS[level - 1]
    return [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]


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


def _pieces(text: str, start: int, end: int, size: int, level: int, end_level: int) -> Iterator[_Piece]:
    if end - start <= size * _MAX_CHARS_PER_TOKEN_GUESS:
        tokens = count_tokens(text[start:end])
        if tokens <= size:
            yield _Piece(start, end, tokens, end_level)
            return
    while level < _LEVEL_COUNT:
        cuts = _cut_points(text, start, end, level)
        if cuts:
            bounds = [start, *cuts, end]
            for index in range(len(bounds) - 1):
                child_end_level = level if index < len(bounds) - 2 else end_level
                yield from _pieces(text, bounds[index], bounds[index + 1], size, level + 1, child_end_level)
            return
        level += 1
    spans = list(_hard_split(text, start, end, size))
    for index, (piece_start, piece_end, tokens) in enumerate(spans):
        yield _Piece(piece_start, piece_end, tokens, _HARD if index < len(spans) - 1 else end_level)


def _subdivide(text: str, piece: _Piece) -> list[_Piece]:
    """Split a piece at the strongest boundary level below its own (used to fill a half-empty chunk)."""
    for level in range(1, _LEVEL_COUNT):
        cuts = _cut_points(text, piece.start, piece.end, level)
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


def _overlap_start(text: str, chunk_start: int, chunk_end: int, overlap: int) -> tuple[int, int]:
    """The furthest-back word start in the chunk whose tail to `chunk_end` has at most `overlap` tokens."""
    if overlap <= 0:
        return chunk_end, 0
    window_start = max(chunk_start + 1, chunk_end - overlap * _MAX_CHARS_PER_TOKEN_GUESS)
    candidates = [m.start() for m in _WORD_START.finditer(text, window_start, chunk_end)]
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


def chunk_text(
    text: str,
    *,
    chunk_size: int,
    overlap: int,
    page_starts: Sequence[tuple[int, int]] | None = None,
) -> Iterator[TextChunk]:
    """Yield chunks of `text` in order. `page_starts` is [(char_offset, page_number)] for paginated sources."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    overlap = max(0, min(overlap, chunk_size // 2))
    if not text:
        return
    pages = _PageIndex(page_starts)
    pending: deque[_Piece] = deque()
    stream = _pieces(text, 0, len(text), chunk_size, 0, 0)
    order = 0
    chunk_start = 0  # may lie before the first piece's start: the overlap carried from the previous chunk
    overlap_tokens = 0
    current: list[_Piece] = []
    current_tokens = 0

    def next_piece() -> _Piece | None:
        if pending:
            return pending.popleft()
        return next(stream, None)

    def emit() -> TextChunk:
        nonlocal order, chunk_start, overlap_tokens, current, current_tokens
        # Prefer the strongest boundary in the second half of the chunk; carry the rest over.
        cut = len(current) - 1
        running, best_level = 0, current[-1].end_level
        for index, piece in enumerate(current):
            running += piece.tokens
            if running + overlap_tokens >= chunk_size // 2 and piece.end_level < best_level:
                cut, best_level = index, piece.end_level
        for piece in reversed(current[cut + 1 :]):
            pending.appendleft(piece)
        current = current[: cut + 1]
        end = current[-1].end
        actual = count_tokens(text[chunk_start:end])
        while actual > chunk_size:  # token counts are not exactly additive: shed pieces until it fits
            if len(current) > 1:
                pending.appendleft(current.pop())
            elif chunk_start < current[0].start:
                chunk_start = current[0].start  # drop the overlap
            else:  # cannot happen: every piece fits on its own
                break
            end = current[-1].end
            actual = count_tokens(text[chunk_start:end])
        page = pages.page_at(chunk_start + (len(text[chunk_start:end]) - len(text[chunk_start:end].lstrip())))
        chunk = TextChunk(order, chunk_start, end, text[chunk_start:end], actual, page)
        order += 1
        chunk_start, overlap_tokens = _overlap_start(text, chunk_start, end, overlap)
        current, current_tokens = [], 0
        return chunk

    while True:
        piece = next_piece()
        if piece is None:
            break
        if current and overlap_tokens + current_tokens + piece.tokens > chunk_size:
            if overlap_tokens + current_tokens < chunk_size // 2:
                parts = _subdivide(text, piece)
                if len(parts) > 1:  # fill the chunk with the first part(s) of a big piece instead
                    pending.extendleft(reversed(parts))
                    continue
            pending.appendleft(piece)
            yield emit()
            continue
        if not current and overlap_tokens + piece.tokens > chunk_size:
            chunk_start, overlap_tokens = piece.start, 0  # no room for the overlap before this piece
        if not current and chunk_start > piece.start:
            chunk_start = piece.start
        current.append(piece)
        current_tokens += piece.tokens
    if current:
        yield emit()
