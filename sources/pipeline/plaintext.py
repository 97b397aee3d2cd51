"""What every format shares: the extraction result and error, decoding, normalisation, the size limit,
Markdown tables — and the two formats read in this process (plain text and CSV: both linear).

Errors are ExtractionError with a message written for the person who added the source; nothing here lets
a raw traceback reach `error_message`.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings


class ExtractionError(Exception):
    """Extraction failed for a reason the user can act on; `str(error)` is safe to show."""


@dataclass
class Extracted:
    text: str
    # [(char_offset_in_text, page_number)] for paginated formats (PDF), else empty.
    page_starts: list[tuple[int, int]] = field(default_factory=list)
    page_count: int | None = None


# --- normalisation ----------------------------------------------------------------------------------------

# Unicode spaces (NBSP, thin space, ideographic space …) become a plain space instead of vanishing, so two
# words joined by an NBSP stay two words; zero-width characters and control characters go away.
_TRANSLATION = {code: " " for code in (0x00A0, 0x1680, 0x202F, 0x205F, 0x3000, 0x0B, 0x0C, 0x85, 0x2028, 0x2029)}
_TRANSLATION.update({code: " " for code in range(0x2000, 0x200B)})
_TRANSLATION.update({code: None for code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)})
_TRANSLATION.update({code: None for code in range(0x00, 0x20) if code not in (0x09, 0x0A, 0x0B, 0x0C, 0x0D)})
_TRANSLATION.update({code: None for code in range(0x7F, 0xA0) if code != 0x85})
_TRANSLATION[0x0D] = "\n"
# Patterns match only what must change, not every single space or newline: on a 50 MB text a pattern
# matching each space makes `re.sub` hold millions of fragments at once (~15x the text in memory).
_SPACES = re.compile(r"[ \t]{2,}|\t")
_SPACE_AROUND_NEWLINE = re.compile(r" \n ?|\n ")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_BLOCK_CHARS = 1 << 20


def _normalize_block(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    text = text.translate(_TRANSLATION)
    text = _SPACES.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text)


def _blocks(text: str):
    """~1 MB pieces, each cut before a newline that follows a visible character, so no run of blanks or
    newlines (and no CRLF, no combining sequence) straddles two pieces."""
    start = 0
    while len(text) - start > _BLOCK_CHARS:
        cut = text.find("\n", start + _BLOCK_CHARS)
        while cut != -1 and (text[cut - 1].isspace() or not text[cut - 1].isprintable()):
            cut = text.find("\n", cut + 1)
        if cut == -1:
            break
        yield text[start:cut]
        start = cut
    yield text[start:]


def normalize_text(text: str) -> str:
    """NFC, CRLF → LF, odd spaces → space, control characters removed, runs of blanks collapsed, ≤ 2 newlines.

    Works in ~1 MB blocks, so memory stays a small multiple of the text however large it is.
    """
    if len(text) <= _BLOCK_CHARS:
        return _normalize_block(text).strip()
    return "".join(_normalize_block(block) for block in _blocks(text)).strip()


def check_size(length: int) -> None:
    if length > settings.MAX_EXTRACTED_CHARS:
        raise ExtractionError(
            f"The extracted text is longer than the limit of {settings.MAX_EXTRACTED_CHARS:,} characters; "
            "split the document into smaller sources."
        )


# --- decoders ---------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then the charset charset-normalizer detects."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ExtractionError("Could not detect the text encoding of the file; save it as UTF-8 and try again.")
    return str(best)


def extract_text(data: bytes) -> Extracted:
    check_size(len(data) // 4)  # cheap early refusal; the exact check follows
    text = normalize_text(decode_text(data))
    check_size(len(text))
    return Extracted(text=text)


# --- tables -----------------------------------------------------------------------------------------------


def _table_cell(value: str | None) -> str:
    return " ".join((value or "").split()).replace("|", "\\|")


def markdown_table(rows: list[list[str | None]]) -> str:
    """Rows of cells as a Markdown table: the first row is the header (the chunker repeats it in every chunk
    that continues the table), a `|---|` separator row follows it, short rows are padded to its width."""
    width = len(rows[0])

    def line(cells: list[str | None]) -> str:
        cells = [*cells, *[""] * (width - len(cells))]
        return "| " + " | ".join(_table_cell(cell) for cell in cells) + " |"

    return "\n".join([line(rows[0]), "|" + "|".join(["---"] * width) + "|", *(line(row) for row in rows[1:])])


# Enough lines for csv.Sniffer to tell the delimiter and quoting; it is slow on much more.
_CSV_SNIFF_CHARS = 16_384


def extract_csv(data: bytes) -> Extracted:
    """A CSV file as one Markdown table (its first row the header), in the dialect csv.Sniffer detects; a file
    the csv module cannot read (a field over its size limit, a stray quote) is indexed as plain text."""
    check_size(len(data) // 4)
    text = decode_text(data)
    sample = text[:_CSV_SNIFF_CHARS]
    if len(text) > _CSV_SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    lines: list[str] = []
    length = width = 0
    try:
        for cells in csv.reader(io.StringIO(text, newline=""), dialect):
            if not any(cell.strip() for cell in cells):
                continue
            if not lines:
                width = len(cells)
                table = markdown_table([cells])
                lines.append(table)
            else:
                cells = [*cells, *[""] * (width - len(cells))]
                lines.append("| " + " | ".join(_table_cell(cell) for cell in cells) + " |")
            length += len(lines[-1]) + 1
            check_size(length)  # the table may be larger than the file (`1,2` becomes `| 1 | 2 |`)
    except csv.Error:
        return extract_text(data)
    if not lines:
        return extract_text(data)
    table = normalize_text("\n".join(lines))
    check_size(len(table))
    return Extracted(text=table)


# A page may hold a ruled table when its content draws this many long horizontal and vertical edges (a 2 × 2
