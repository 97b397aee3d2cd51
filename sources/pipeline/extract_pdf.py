"""PDF: each page's text (pypdf), its ruled tables (pdf_tables.py) and its headings from font sizes.

pypdf is imported inside `extract_pdf`: only the parsing child process (bounded.run_isolated) needs it.
"""

import io
import re

from sources.pipeline.pdf_tables import PdfPage, PdfTables
from sources.pipeline.plaintext import Extracted, ExtractionError, check_size, normalize_text


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


def _pypdf_page(page, number: int) -> PdfPage:
    fragments: list[tuple[str, float]] = []

    def visit(text, cm, tm, _font, font_size) -> None:
        scale = (abs(tm[0] * tm[3] - tm[1] * tm[2]) * abs(cm[0] * cm[3] - cm[1] * cm[2])) ** 0.5
        fragments.append((text, round((font_size or 0) * scale * 2) / 2))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(fragment for fragment, _ in fragments) == text:
        return PdfPage(number, text, _line_sizes(fragments))
    return PdfPage(number, text, [None] * (text.count("\n") + 1))


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


def _pdf_headings(pages: list[PdfPage]) -> dict[tuple[int, int], int]:
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


def _render_pdf_page(page: PdfPage, levels: dict[int, int]) -> str:
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
    tables = PdfTables(raw)
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is password-protected; upload an unprotected copy.")
        pages: list[PdfPage] = []
        length = 0
        for number, page in enumerate(reader.pages, start=1):
            extracted = tables.page(page, number) or _pypdf_page(page, number)
            if extracted.text.strip():
                pages.append(extracted)
                length += len(extracted.text) + 2
                check_size(length)  # before the headings and normalisation; the exact check follows
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
    check_size(length)
    text = "\n\n".join(parts)
    if not text.strip():
        raise ExtractionError("The PDF contains no extractable text (scanned images are not supported: no OCR).")
    return Extracted(text=text, page_starts=page_starts, page_count=page_count)
