"""EPUB: the book's chapters in reading order (its spine), each XHTML document as Markdown — headings as `#`
lines, paragraphs, list items, preformatted text fenced, tables as Markdown — under the book's title.

The file is a zip: it is checked and unpacked first (zipformats.open_archive); its package files are read
with a hardened XML parser and its chapters with lxml's HTML parser (tolerant of what e-book tools write).
The HTML path for web pages (extract_html) is not used: its main-content extractor is built to drop a web
page's boilerplate and also drops a short chapter's headings; a chapter is all content. The navigation
document (an EPUB 3 table of contents that repeats the headings) is left out.
"""

import io
import posixpath
import re
from urllib.parse import unquote

from sources.pipeline.extract_code import fenced
from sources.pipeline.extract_html import _html_table_rows as html_table_rows
from sources.pipeline.plaintext import Extracted, ExtractionError, check_size, markdown_table, normalize_text
from sources.pipeline.zipformats import open_archive, parse_xml, reading

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
_CHAPTER_TYPES = {"application/xhtml+xml", "text/html"}
_SKIP = {"script", "style", "head", "template", "svg", "math", "nav"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "section", "article", "header", "footer", "aside", "main", "blockquote", "figure", "figcaption",
    "ul", "ol", "dl", "dt", "dd", "hr", "address", "body", "caption",
}  # fmt: skip
_WHITESPACE = re.compile(r"\s+")


def _name(element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _markdown(element, parts: list[str]) -> None:
    """The element's content as Markdown into `parts` (whitespace as HTML collapses it)."""
    name = _name(element)
    if name in _SKIP or not name:
        pass
    elif name in _HEADINGS:
        text = " ".join(element.text_content().split())
        if text:
            parts.append(f"\n\n{'#' * _HEADINGS[name]} {text}\n\n")
    elif name == "table" and len(rows := html_table_rows(element)) >= 2 and max(map(len, rows)) >= 2:
        width = max(len(row) for row in rows)
        rows[0] = [*rows[0], *[""] * (width - len(rows[0]))]
        parts.append(f"\n\n{markdown_table(rows)}\n\n")
    elif name == "pre":
        parts.append(f"\n\n{fenced(element.text_content().strip(chr(10)))}\n\n")
    else:
        if name == "br":
            parts.append("\n")
        elif name in ("li", "tr"):
            parts.append("\n- " if name == "li" else "\n")
        elif name in ("td", "th"):  # a layout table's cells: words apart
            parts.append(" ")
        elif name in _BLOCKS:
            parts.append("\n\n")
        if element.text:
            parts.append(_WHITESPACE.sub(" ", element.text))
        for child in element:
            _markdown(child, parts)
        if name in _BLOCKS:
            parts.append("\n\n")
    if element.tail:
        parts.append(_WHITESPACE.sub(" ", element.tail))


def _chapter(data: bytes) -> str:
    import lxml.html

    if not data.strip():
        return ""
    document = lxml.html.document_fromstring(data)
    body = document.find("body")
    parts: list[str] = []
    _markdown(body if body is not None else document, parts)
    return normalize_text("".join(parts))


def _spine(archive) -> tuple[str, list[str]]:
    """The book's title and the archive names of its chapters, in reading order."""
    container = parse_xml(archive.read("META-INF/container.xml"))
    rootfile = next(container.iter(f"{_CONTAINER}rootfile"), None)
    if rootfile is None or not rootfile.get("full-path"):
        raise ExtractionError("The EPUB file names no package document (META-INF/container.xml); save it again.")
    package_path = rootfile.get("full-path")
    package = parse_xml(archive.read(package_path))
    base = posixpath.dirname(package_path)
    title = " ".join(str(package.xpath("string(opf:metadata/dc:title)", namespaces=_OPF)).split())
    manifest = {}
    for item in package.iterfind("opf:manifest/opf:item", _OPF):
        properties = (item.get("properties") or "").split()
        if item.get("media-type") in _CHAPTER_TYPES and "nav" not in properties and item.get("href"):
            manifest[item.get("id")] = posixpath.normpath(posixpath.join(base, unquote(item.get("href"))))
    chapters = [manifest[ref.get("idref")] for ref in package.iterfind("opf:spine/opf:itemref", _OPF)
                if ref.get("idref") in manifest]  # fmt: skip
    return title, list(dict.fromkeys(chapters))


def extract_epub(data: bytes | io.IOBase) -> Extracted:
    blocks: list[str] = []
    length = 0
    with reading("EPUB"):
        with open_archive(data, "EPUB") as archive:
            title, chapters = _spine(archive)
            if title:
                blocks.append(f"# {title}")
            names = set(archive.namelist())
            for chapter in chapters:
                if chapter not in names:
                    continue  # a spine entry the archive does not hold: skipped, as readers do
                blocks.append(_chapter(archive.read(chapter)))
                length += len(blocks[-1]) + 2
                check_size(length)
    text = normalize_text("\n\n".join(block for block in blocks if block))
    check_size(len(text))
    return Extracted(text=text)
