"""Text extraction: the entry point (`extract_by_kind`, `kind_for_content_type`) and the upload kinds.

The formats live in their own modules: plaintext.py (shared helpers, plain text, CSV), extract_pdf.py
(with pdf_tables.py), extract_docx.py, extract_html.py, extract_pptx.py, extract_xlsx.py, extract_odt.py and
extract_epub.py (the zip-based ones share zipformats.py), extract_rtf.py, extract_json.py and extract_code.py
(source code, configuration, reStructuredText); their public names are re-exported here.
Errors are ExtractionError with a message written for the person who added the source; nothing here lets
a raw traceback reach `error_message`.
"""

import io
from pathlib import PurePath

from sources.pipeline.bounded import LimitExceeded, run_isolated
from sources.pipeline.extract_code import CODE_LANGUAGES, extract_code, extract_rst
from sources.pipeline.extract_docx import extract_docx
from sources.pipeline.extract_epub import extract_epub
from sources.pipeline.extract_html import extract_html
from sources.pipeline.extract_json import extract_json
from sources.pipeline.extract_odt import extract_odt
from sources.pipeline.extract_pdf import extract_pdf
from sources.pipeline.extract_pptx import extract_pptx
from sources.pipeline.extract_rtf import extract_rtf
from sources.pipeline.extract_xlsx import extract_xlsx
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
    "CODE_LANGUAGES",
    "UPLOAD_KINDS",
    "Extracted",
    "ExtractionError",
    "decode_text",
    "extract_by_kind",
    "extract_code",
    "extract_csv",
    "extract_docx",
    "extract_epub",
    "extract_html",
    "extract_json",
    "extract_odt",
    "extract_pdf",
    "extract_pptx",
    "extract_rst",
    "extract_rtf",
    "extract_text",
    "extract_xlsx",
    "kind_for_content_type",
    "markdown_table",
    "normalize_text",
]

UPLOAD_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".rst": "rst",
    ".csv": "csv",
    ".tsv": "csv",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".odt": "odt",
    ".epub": "epub",
    ".rtf": "rtf",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    **dict.fromkeys(CODE_LANGUAGES, "code"),
}


# Parsed in the extraction child (bounded.run_isolated), with the modules it imports before its memory limit.
_PARSERS = {
    "pdf": extract_pdf, "docx": extract_docx, "html": extract_html, "pptx": extract_pptx, "xlsx": extract_xlsx,
    "odt": extract_odt, "epub": extract_epub, "rtf": extract_rtf, "json": extract_json,
}  # fmt: skip
_PARSER_MODULES = {
    "pdf": ("pypdf",), "docx": ("docx",), "html": ("trafilatura", "charset_normalizer", "lxml.html"),
    "pptx": ("pptx",), "xlsx": ("openpyxl",), "odt": ("lxml.etree",), "epub": ("lxml.html",),
    "rtf": ("striprtf.striprtf", "charset_normalizer"), "json": ("json", "charset_normalizer"),
}  # fmt: skip


def _parse(kind: str, data: bytes) -> Extracted:
    return _PARSERS[kind](data)


def extract_by_kind(kind: str, data: bytes | io.IOBase, *, filename: str = "") -> Extracted:
    """Extract `data` as `kind` (`filename` names a code file's language). The parsers with amplifications of
    their own — PDF, DOCX, HTML, PPTX, XLSX, ODT, EPUB, RTF, JSON — run in a child process under
    EXTRACTION_TIMEOUT_SECONDS and EXTRACTION_MAX_MEMORY_MB (bounded.run_isolated); the zip-based ones unpack
    their archive under its limits first. Plain text, code, reStructuredText and CSV (the csv module's C reader,
    output size checked as it grows) are linear and stay here."""
    raw = data if isinstance(data, bytes | bytearray) else data.read()
    if kind == "csv":
        return extract_csv(raw)
    if kind == "code":
        return extract_code(raw, language=CODE_LANGUAGES.get(PurePath(filename).suffix.lower(), ""))
    if kind == "rst":
        return extract_rst(raw)
    if kind not in _PARSERS:
        return extract_text(raw)
    try:
        return run_isolated(_parse, kind, bytes(raw), imports=_PARSER_MODULES[kind])
    except LimitExceeded as error:
        raise ExtractionError(str(error)) from None


# Media types a fetched URL may declare, beyond HTML, PDF, CSV and text/*.
_MEDIA_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/epub+zip": "epub",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "application/json": "json",
    "application/x-ndjson": "json",
    "text/x-rst": "rst",
}


def kind_for_content_type(content_type: str, body_start: bytes) -> str | None:
    """Dispatch a fetched URL on its Content-Type (sniffing only when the header is missing)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime == "application/pdf":
        return "pdf"
    if mime in ("text/csv", "text/tab-separated-values"):
        return "csv"
    if mime in _MEDIA_TYPES:
        return _MEDIA_TYPES[mime]
    if mime.endswith("+json"):
        return "json"
    if mime.startswith("text/") or mime in ("application/xml", "application/markdown"):
        return "text"
    if not mime or mime == "application/octet-stream":
        head = body_start[:512].lstrip().lower()
        if head.startswith(b"%pdf"):
            return "pdf"
        if head.startswith((b"<!doctype html", b"<html")):
            return "html"
        return "text" if mime == "" else None
    return None
