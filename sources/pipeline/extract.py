"""Text extraction: the entry point (`extract_by_kind`, `kind_for_content_type`) and the upload kinds.

The formats live in their own modules: plaintext.py (shared helpers, plain text, CSV), extract_pdf.py
(with pdf_tables.py), extract_docx.py and extract_html.py; their public names are re-exported here.
Errors are ExtractionError with a message written for the person who added the source; nothing here lets
a raw traceback reach `error_message`.
"""

import io

from sources.pipeline.bounded import LimitExceeded, run_isolated
from sources.pipeline.extract_docx import extract_docx
from sources.pipeline.extract_html import extract_html
from sources.pipeline.extract_pdf import extract_pdf
from sources.pipeline.plaintext import (
    Extracted,
    ExtractionError,
    decode_text,
    extract_csv,
    extract_text,
    markdown_table,
    normalize_text,
)

__all__ = [
    "UPLOAD_KINDS",
    "Extracted",
    "ExtractionError",
    "decode_text",
    "extract_by_kind",
    "extract_csv",
    "extract_docx",
    "extract_html",
    "extract_pdf",
    "extract_text",
    "kind_for_content_type",
    "markdown_table",
    "normalize_text",
]

UPLOAD_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".csv": "csv",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
}


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
