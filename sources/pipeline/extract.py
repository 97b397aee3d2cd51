"""Text extraction for every supported format, plus normalisation.

Errors are ExtractionError with a message written for the person who added the source; nothing here lets
a raw traceback reach `error_message`.
"""

import io
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.conf import settings

from sources.pipeline.bounded import LimitExceeded, out_of_memory, run_isolated, unpack_zip

UPLOAD_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".csv": "text",
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


def extract_pdf(data: bytes | io.IOBase) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError, PyPdfError

    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        reader = PdfReader(stream)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is password-protected; upload an unprotected copy.")
        parts: list[str] = []
        page_starts: list[tuple[int, int]] = []
        length = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = normalize_text(page.extract_text() or "")
            if not page_text:
                continue
            if parts:
                length += 2  # the "\n\n" joining pages
            page_starts.append((length, number))
            parts.append(page_text)
            length += len(page_text)
            _check_size(length)
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
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or cells[-1] != value:  # merged cells repeat their text
                        cells.append(value)
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                blocks.append("\n".join(rows))
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


def extract_html(data: bytes | str) -> Extracted:
    html = data if isinstance(data, str) else decode_text(data)
    _check_size(len(html) // 4)
    import trafilatura

    text = None
    try:
        text = trafilatura.extract(
            html, output_format="markdown", include_tables=True, include_comments=False, favor_recall=True
        )
    except Exception as error:  # noqa: BLE001 - a parser failure falls back to the plain extractor below
        if out_of_memory(error):
            raise MemoryError from None  # the memory limit, not a parser failure
        text = None
    if not text or not text.strip():
        parser = _PlainHTML()
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    text = normalize_text(text)
    _check_size(len(text))
    return Extracted(text=text)


_PARSERS = {"pdf": extract_pdf, "docx": extract_docx, "html": extract_html}
_PARSER_MODULES = {"pdf": ("pypdf",), "docx": ("docx",), "html": ("trafilatura", "charset_normalizer")}


def _parse(kind: str, data: bytes) -> Extracted:
    return _PARSERS[kind](data)


def extract_by_kind(kind: str, data: bytes | io.IOBase) -> Extracted:
    """Extract `data` as `kind`. PDF, DOCX and HTML are parsed in a child process under
    EXTRACTION_TIMEOUT_SECONDS and EXTRACTION_MAX_MEMORY_MB (bounded.run_isolated); plain text is linear and
    stays here."""
    raw = data if isinstance(data, bytes | bytearray) else data.read()
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
