"""Text extraction for every supported format, plus normalisation.

Errors are ExtractionError with a message written for the person who added the source; nothing here lets
a raw traceback reach `error_message`.
"""

import csv
import io
import logging
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.conf import settings

from sources.pipeline.bounded import LimitExceeded, out_of_memory, run_isolated, unpack_zip

logger = logging.getLogger("minirag.ingest")

UPLOAD_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".csv": "csv",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
}


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


def _check_size(length: int) -> None:
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
    _check_size(len(data) // 4)  # cheap early refusal; the exact check follows
    text = normalize_text(decode_text(data))
    _check_size(len(text))
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
    _check_size(len(data) // 4)
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
            _check_size(length)  # the table may be larger than the file (`1,2` becomes `| 1 | 2 |`)
    except csv.Error:
        return extract_text(data)
    if not lines:
        return extract_text(data)
    table = normalize_text("\n".join(lines))
    _check_size(len(table))
    return Extracted(text=table)


# A page may hold a ruled table when its content draws this many long horizontal and vertical edges (a 2 × 2
# grid has 3 of each): rectangles (`x y w h re`) and line segments (`x y m`/`x y l`). Underlines, a rule under a
# heading or a frame around a paragraph do not get the page parsed again by pdfplumber.
_PDF_RULES_MIN = 3
_PDF_EDGE_MIN_LENGTH = 5.0
_PDF_PATH = re.compile(rb"(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+re\b|(-?[\d.]+)\s+(-?[\d.]+)\s+([ml])\b")


def _draws_a_grid(content: bytes) -> bool:
    horizontal = vertical = 0
    point = None
    for match in _PDF_PATH.finditer(content):
        try:
            if match.group(1) is not None:
                wide = abs(float(match.group(3))) >= _PDF_EDGE_MIN_LENGTH
                tall = abs(float(match.group(4))) >= _PDF_EDGE_MIN_LENGTH
                horizontal += 2 if wide and tall else wide  # a box has two edges each way, a rule one
                vertical += 2 if wide and tall else tall
                point = None
            else:
                x, y = float(match.group(5)), float(match.group(6))
                if match.group(7) == b"l" and point is not None:
                    dx, dy = abs(x - point[0]), abs(y - point[1])
                    horizontal += dy < 1 and dx >= _PDF_EDGE_MIN_LENGTH
                    vertical += dx < 1 and dy >= _PDF_EDGE_MIN_LENGTH
                point = (x, y)
        except ValueError:  # "1.2.3" is no number
            point = None
        if horizontal >= _PDF_RULES_MIN and vertical >= _PDF_RULES_MIN:
            return True
    return False


# Table detection (pdfplumber) parses a page ~20x slower than pypdf extracts its text: it may spend this share
# of EXTRACTION_TIMEOUT_SECONDS; the pages after that are read as text only, so a long PDF is not stopped.
PDF_TABLE_TIME_SHARE = 0.5


@dataclass
class _PdfPage:
    number: int
    text: str
    # The font size of each line of `text` (split on "\n"), None where unknown (table rows, unmatched text).
    sizes: list[float | None]


def _line_sizes(fragments: list[tuple[str, float]]) -> list[float | None]:
    """The font size that covers most characters of each line the fragments make up."""
    sizes: list[float | None] = []
    counts: dict[float, int] = {}
    for text, size in fragments:
        pieces = text.split("\n")
        for index, piece in enumerate(pieces):
            if index:
                sizes.append(max(counts, key=counts.__getitem__) if counts else None)
                counts = {}
            visible = len(piece.strip())
            if visible:
                counts[size] = counts.get(size, 0) + visible
    sizes.append(max(counts, key=counts.__getitem__) if counts else None)
    return sizes


def _pypdf_page(page, number: int) -> _PdfPage:
    fragments: list[tuple[str, float]] = []

    def visit(text, cm, tm, _font, font_size) -> None:
        scale = (abs(tm[0] * tm[3] - tm[1] * tm[2]) * abs(cm[0] * cm[3] - cm[1] * cm[2])) ** 0.5
        fragments.append((text, round((font_size or 0) * scale * 2) / 2))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(fragment for fragment, _ in fragments) == text:
        return _PdfPage(number, text, _line_sizes(fragments))
    return _PdfPage(number, text, [None] * (text.count("\n") + 1))


class _PdfTables:
    """Ruled tables of PDF pages as Markdown, through pdfplumber (opened on the first page that may hold one).

    Only pages whose content draws lines or rectangles are parsed: pdfplumber's line strategy needs those, and
    its text-alignment strategy finds tables in ordinary paragraphs."""

    def __init__(self, data: bytes):
        self.data = data
        self.pdf = None
        self.spent = 0.0
        timeout = getattr(settings, "EXTRACTION_TIMEOUT_SECONDS", 0) or 0
        self.budget = timeout * PDF_TABLE_TIME_SHARE if timeout else None

    def page(self, page, number: int) -> _PdfPage | None:
        """The page with its tables as Markdown, in reading order; None when it holds no table (or pdfplumber
        cannot read it: the caller falls back to pypdf's text)."""
        if self.budget is not None and self.spent > self.budget:
            return None
        try:
            contents = page.get_contents()
            data = contents.get_data() if contents is not None else b""
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - pypdf reads the page's text on its own
            return None
        if not _draws_a_grid(data):
            return None
        started = time.monotonic()
        try:
            return self._page(number)
        except Exception as error:  # noqa: BLE001 - any pdfminer failure: the page is read as text only
            if out_of_memory(error):
                raise MemoryError from None
            logger.info("table detection skipped page %d: %s", number, type(error).__name__)
            return None
        finally:
            self.spent += time.monotonic() - started

    def _page(self, number: int) -> _PdfPage | None:
        if self.pdf is None:
            import pdfplumber

            self.pdf = pdfplumber.open(io.BytesIO(self.data))
        page = self.pdf.pages[number - 1]
        try:
            tables = []
            for table in page.find_tables():
                rows = [row for row in table.extract() if any((cell or "").strip() for cell in row)]
                if len(rows) >= 2 and max(len(row) for row in rows) >= 2:  # a box around a paragraph is no table
                    tables.append((table.bbox, rows))
            if not tables:
                return None
            boxes = [bbox for bbox, _ in tables]

            def outside_tables(obj) -> bool:
                if obj.get("object_type") != "char":
                    return True
                x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
                return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

            blocks: list[tuple[float, str, list[float | None]]] = []
            for line in page.filter(outside_tables).extract_text_lines(return_chars=True):
                counts: dict[float, int] = {}
                for char in line["chars"]:
                    size = round(char.get("size", 0) * 2) / 2
                    counts[size] = counts.get(size, 0) + 1
                blocks.append((line["top"], line["text"], [max(counts, key=counts.__getitem__) if counts else None]))
            for bbox, rows in tables:
                table = f"\n{markdown_table(rows)}\n"
                blocks.append((bbox[1], table, [None] * (table.count("\n") + 1)))
            blocks.sort(key=lambda block: block[0])
            return _PdfPage(
                number,
                "\n".join(text for _, text, _ in blocks),
                [size for _, _, sizes in blocks for size in sizes],
            )
        finally:
            page.close()

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()


# A line is a heading when its font is this much larger than the body text's (the size most characters use),
# it is short, has letters, does not end like a sentence, and is not repeated on many pages (running headers).
_HEADING_SIZE_RATIO = 1.15
_HEADING_MAX_WORDS = 15
_HEADING_MAX_CHARS = 150
_RUNNING_HEADER_PAGES = 3  # a big line on this many pages (or on both of two) repeats: no heading
_HEADINGS_MAX_SHARE = 0.2  # more "headings" than this share of the lines: the sizes say nothing; no headings
_HEADING_LETTERS = re.compile(r"[^\W\d_]{2}")


def _heading_candidate(line: str) -> bool:
    line = line.strip()
    return (
        2 <= len(line) <= _HEADING_MAX_CHARS
        and len(line.split()) <= _HEADING_MAX_WORDS
        and _HEADING_LETTERS.search(line) is not None
        and line[-1] not in ".,;:!?"
        and not line.startswith(("|", "#"))
    )


def _pdf_headings(pages: list[_PdfPage]) -> dict[tuple[int, int], int]:
    """{(page index, line index): heading level} from font sizes; empty when they give no clear structure."""
    characters: dict[float, int] = {}
    line_count = 0
    for page in pages:
        for line, size in zip(page.text.split("\n"), page.sizes, strict=False):
            line_count += 1
            if size:
                characters[size] = characters.get(size, 0) + len(line.strip())
    if not characters:
        return {}
    body = max(characters, key=characters.__getitem__)
    threshold = max(body * _HEADING_SIZE_RATIO, body + 1)
    candidates: list[tuple[int, int, float, str]] = []
    for page_index, page in enumerate(pages):
        for line_index, (line, size) in enumerate(zip(page.text.split("\n"), page.sizes, strict=False)):
            if size and size >= threshold and _heading_candidate(line):
                candidates.append((page_index, line_index, size, " ".join(line.split())))
    pages_by_text: dict[str, set[int]] = {}
    for page_index, _, _, text in candidates:
        pages_by_text.setdefault(text, set()).add(page_index)
    running = min(_RUNNING_HEADER_PAGES, max(2, len(pages)))
    candidates = [c for c in candidates if len(pages_by_text[c[3]]) < running]
    if not candidates or len(candidates) > _HEADINGS_MAX_SHARE * line_count:
        return {}
    levels = {size: min(rank + 1, 6) for rank, size in enumerate(sorted({c[2] for c in candidates}, reverse=True))}
    return {(page_index, line_index): levels[size] for page_index, line_index, size, _ in candidates}


# A PDF line that starts like a Markdown heading ("# comment" in a code listing) but is no heading.
_MARKDOWN_HEADING_LOOKALIKE = re.compile(r"[ \t]*#{1,6}(?:[ \t]|$)")


def _render_pdf_page(page: _PdfPage, levels: dict[int, int]) -> str:
    """The page's text with its headings as Markdown `#` lines; a line that only looks like one is escaped
    (`\\#`), so that the chunker and the section path see only real headings. `levels`: {line index: level}."""
    if "#" not in page.text and not levels:
        return page.text
    output: list[str] = []
    heading: list[str] = []  # the heading being read: a heading wrapped over lines continues on the next
    previous_level = None
    for line_index, line in enumerate(page.text.split("\n")):
        level = levels.get(line_index)
        if level is not None and level == previous_level:
            heading.append(line.strip())
            continue
        if heading:
            output.append(f"\n{'#' * previous_level} {' '.join(heading)}\n")
            heading = []
        if level is None:
            output.append("\\" + line.lstrip() if _MARKDOWN_HEADING_LOOKALIKE.match(line) else line)
        else:
            heading = [line.strip()]
        previous_level = level
    if heading:
        output.append(f"\n{'#' * previous_level} {' '.join(heading)}\n")
    return "\n".join(output)


def extract_pdf(data: bytes | io.IOBase) -> Extracted:
    """Each page's text (pypdf), its ruled tables as Markdown (pdfplumber, only on pages that draw lines) and
    its headings as Markdown `#` lines (from font sizes), with the offset where each page starts."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError, PyPdfError

    raw = bytes(data) if isinstance(data, bytes | bytearray) else data.read()
    tables = _PdfTables(raw)
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is password-protected; upload an unprotected copy.")
        pages: list[_PdfPage] = []
        length = 0
        for number, page in enumerate(reader.pages, start=1):
            extracted = tables.page(page, number) or _pypdf_page(page, number)
            if extracted.text.strip():
                pages.append(extracted)
                length += len(extracted.text) + 2
                _check_size(length)  # before the headings and normalisation; the exact check follows
        page_count = len(reader.pages)
    except ExtractionError:
        raise
    except LimitReachedError:
        raise ExtractionError(
            "The PDF holds a compressed stream that unpacks to more than pypdf's limit; it is too large to index "
            "or is a decompression bomb."
        ) from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ExtractionError(f"Could not read the PDF file (it may be damaged): {type(error).__name__}") from None
    finally:
        tables.close()
    levels_by_page: dict[int, dict[int, int]] = {}
    for (page_index, line_index), level in _pdf_headings(pages).items():
        levels_by_page.setdefault(page_index, {})[line_index] = level
    parts: list[str] = []
    page_starts: list[tuple[int, int]] = []
    length = 0
    for page_index, page in enumerate(pages):
        page_text = normalize_text(_render_pdf_page(page, levels_by_page.get(page_index, {})))
        if not page_text:
            continue
        if parts:
            length += 2  # the "\n\n" joining pages
        page_starts.append((length, page.number))
        parts.append(page_text)
        length += len(page_text)
    _check_size(length)
    text = "\n\n".join(parts)
    if not text.strip():
        raise ExtractionError("The PDF contains no extractable text (scanned images are not supported: no OCR).")
    return Extracted(text=text, page_starts=page_starts, page_count=page_count)


def extract_docx(data: bytes | io.IOBase) -> Extracted:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        # python-docx reads only the checked, already unpacked copy (a DOCX is a zip: see bounded.py).
        document = docx.Document(unpack_zip(data, label="DOCX"))
        # Style names by id, looked up once: python-docx's `paragraph.style` scans every style of the document
        # for the default on each call (~1 ms a paragraph; 600,000 paragraphs took 8 minutes).
        styles = document.styles
        default_style = styles.default(WD_STYLE_TYPE.PARAGRAPH)
        default_name = (default_style.name if default_style is not None else "") or ""
        style_names = {
            style.style_id: style.name or ""
            for style in styles
            if style.type == WD_STYLE_TYPE.PARAGRAPH and style.style_id
        }
    except LimitExceeded as error:
        raise ExtractionError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - python-docx raises assorted zip/xml errors for damaged files
        if out_of_memory(error):
            raise MemoryError from None  # the memory limit, not a damaged file
        raise ExtractionError(f"Could not read the DOCX file (it may be damaged): {type(error).__name__}") from None
    blocks: list[str] = []
    length = 0
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = style_names.get(element.style, default_name)
            if style == "Title":
                text = f"# {text}"
            elif style.startswith("Heading"):
                level = style.removeprefix("Heading").strip()
                text = f"{'#' * min(int(level) if level.isdigit() else 1, 6)} {text}"
            blocks.append(text)
        elif tag == "tbl":
            rows = []
            for row in Table(element, document).rows:
                cells: list[str] = []
                previous = None
                for cell in row.cells:
                    # A cell merged across columns comes once per column: its text goes in the first only. A
                    # cell merged down rows keeps its text in each, so that every row reads on its own.
                    cells.append("" if cell._tc is previous else cell.text)
                    previous = cell._tc
                if any(cell.strip() for cell in cells):
                    rows.append(cells)
            if rows:
                blocks.append(markdown_table(rows))
        else:
            continue
        length += len(blocks[-1]) + 2
        _check_size(length)
    return Extracted(text=normalize_text("\n\n".join(blocks)))


class _PlainHTML(HTMLParser):
    """Fallback HTML → text when the main-content extractor finds nothing (tiny pages)."""

    SKIP = {"script", "style", "noscript", "svg", "head", "template"}
    BLOCK = {
        "p", "div", "section", "article", "header", "footer", "nav", "main", "h1", "h2", "h3", "h4", "h5",
        "h6", "li", "tr", "br", "hr", "blockquote", "pre", "table", "ul", "ol", "dl", "dt", "dd", "figure",
        "figcaption", "aside",
    }  # fmt: skip

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


# A table with a cell longer than this lays out a page rather than holding data; trafilatura reads it.
_DATA_TABLE_MAX_CELL_CHARS = 2_000


def _html_table_rows(table) -> list[list[str]]:
    """The cells of an HTML table row by row, on its grid: a cell spanning columns leaves the columns after it
    empty; a cell spanning rows repeats in each (so every row reads on its own)."""
    rows: list[list[str]] = []
    carried: dict[int, list] = {}  # column -> [rows still to fill, text], from a rowspan above

    def take_carried(cells: list[str]) -> None:
        while len(cells) in carried:
            entry = carried[len(cells)]
            cells.append(entry[1])
            entry[0] -= 1
            if entry[0] <= 0:
                del carried[len(cells) - 1]

    for row in table.iter("tr"):
        cells: list[str] = []
        for cell in row.iterchildren("td", "th"):
            take_carried(cells)
            for block in cell.iter("br", "p", "div", "li"):  # lines and paragraphs inside a cell stay words apart
                block.tail = " " + (block.tail or "")
            value = " ".join(cell.text_content().split())
            down = _span(cell.get("rowspan"))
            for offset in range(_span(cell.get("colspan"))):
                if down > 1:
                    carried[len(cells)] = [down - 1, value if offset == 0 else ""]
                cells.append(value if offset == 0 else "")
        take_carried(cells)
        for column in sorted(column for column in carried if column > len(cells)):
            cells.extend([""] * (column - len(cells)))
            take_carried(cells)
        if any(cells):
            rows.append(cells)
    return rows


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100))
    except ValueError:
        return 1


def _tables_as_placeholders(tree) -> dict[str, str]:
    """Replace each data table of the tree by a placeholder paragraph; return {placeholder: Markdown table}.

    trafilatura decides which placeholders belong to the main content; the tables are rendered here because
    its own Markdown drops the header separator, does not escape `|` in cells, breaks rows whose cells hold
    paragraphs, and flattens tables entirely when it falls back to its baseline extractor. Layout tables
    (holding tables, or long text in a cell) are left to it."""
    from lxml import etree

    marker = f"minirag{secrets.token_hex(6)}table"
    tables: dict[str, str] = {}
    for number, table in enumerate(list(tree.iter("table"))):
        parent = table.getparent()
        if parent is None or table.find(".//table") is not None:
            continue
        rows = _html_table_rows(table)
        if len(rows) < 2 or max(len(row) for row in rows) < 2:
            continue
        if any(len(cell) > _DATA_TABLE_MAX_CELL_CHARS for row in rows for cell in row):
            continue
        width = max(len(row) for row in rows)
        rows[0] = [*rows[0], *[""] * (width - len(rows[0]))]
        caption = table.find("caption")
        caption_text = " ".join(caption.text_content().split()) if caption is not None else ""
        key = f"{marker}{number}"
        tables[key] = (f"{caption_text}\n\n" if caption_text else "") + markdown_table(rows)
        placeholder = etree.Element("p")
        placeholder.text = key
        placeholder.tail = table.tail
        parent.replace(table, placeholder)
    return tables


def extract_html(data: bytes | str) -> Extracted:
    html = data if isinstance(data, str) else decode_text(data)
    _check_size(len(html) // 4)
    import lxml.html
    import trafilatura
    from trafilatura import load_html

    text = None
    tree = None
    tables: dict[str, str] = {}
    try:
        tree = load_html(html)
        if tree is not None:
            tables = _tables_as_placeholders(tree)
        text = trafilatura.extract(
            tree if tree is not None else html,
            output_format="markdown",
            include_tables=True,
            include_comments=False,
            favor_recall=True,
        )
    except Exception as error:  # noqa: BLE001 - a parser failure falls back to the plain extractor below
        if out_of_memory(error):
            raise MemoryError from None  # the memory limit, not a parser failure
        text = None
    if not text or not text.strip():
        parser = _PlainHTML()
        # trafilatura works on a copy: the tree still holds the placeholders, each in a paragraph of its own.
        parser.feed(lxml.html.tostring(tree, encoding="unicode") if tree is not None and tables else html)
        parser.close()
        text = "".join(parser.parts)
    for key, table in tables.items():
        if key in text:
            text = text.replace(key, f"\n\n{table}\n\n")
    text = normalize_text(text)
    _check_size(len(text))
    return Extracted(text=text)


_PARSERS = {"pdf": extract_pdf, "docx": extract_docx, "html": extract_html}
_PARSER_MODULES = {"pdf": ("pypdf",), "docx": ("docx",), "html": ("trafilatura", "charset_normalizer", "lxml.html")}


def _parse(kind: str, data: bytes) -> Extracted:
    return _PARSERS[kind](data)


def extract_by_kind(kind: str, data: bytes | io.IOBase) -> Extracted:
    """Extract `data` as `kind`. PDF, DOCX and HTML are parsed in a child process under
    EXTRACTION_TIMEOUT_SECONDS and EXTRACTION_MAX_MEMORY_MB (bounded.run_isolated); plain text and CSV (the csv
    module's C reader, output size checked as it grows) are linear and stay here."""
    raw = data if isinstance(data, bytes | bytearray) else data.read()
    if kind == "csv":
        return extract_csv(raw)
    if kind not in _PARSERS:
        return extract_text(raw)
    try:
        return run_isolated(_parse, kind, bytes(raw), imports=_PARSER_MODULES[kind])
    except LimitExceeded as error:
        raise ExtractionError(str(error)) from None


def kind_for_content_type(content_type: str, body_start: bytes) -> str | None:
    """Dispatch a fetched URL on its Content-Type (sniffing only when the header is missing)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime == "application/pdf":
        return "pdf"
    if mime == "text/csv":
        return "csv"
    if mime.startswith("text/") or mime in ("application/json", "application/xml", "application/markdown"):
        return "text"
    if not mime or mime == "application/octet-stream":
        head = body_start[:512].lstrip().lower()
        if head.startswith(b"%pdf"):
            return "pdf"
        if head.startswith((b"<!doctype html", b"<html")):
            return "html"
        return "text" if mime == "" else None
    return None
