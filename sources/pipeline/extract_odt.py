"""ODT (OpenDocument text, LibreOffice's format): headings as Markdown `#` lines at their outline level,
paragraphs, list items as `- ` lines, tables as Markdown, footnotes after the paragraph that cites them.

The file is a zip: it is checked and unpacked first (zipformats.open_archive), then its `content.xml` is read
with lxml under a hardened parser (no DTD, no entities). odfpy, the library for the format, is not used: it
builds its own pure-Python tree of the whole document (slow and memory-hungry on large files), has had no
release since 2020, and its text export drops the heading levels and table structure kept here.
Tracked deletions, indexes (a table of contents repeats the headings) and annotations are left out.
"""

import io

from sources.pipeline.plaintext import Extracted, check_size, markdown_table, normalize_text
from sources.pipeline.zipformats import open_archive, parse_xml, reading

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
}
_TEXT, _TABLE, _OFFICE = (f"{{{_NS[prefix]}}}" for prefix in ("text", "table", "office"))
_SKIPPED = {
    f"{_TEXT}tracked-changes", f"{_TEXT}table-of-content", f"{_TEXT}alphabetical-index",
    f"{_TEXT}illustration-index", f"{_TEXT}table-index", f"{_TEXT}object-index", f"{_TEXT}user-index",
    f"{_TEXT}bibliography", f"{_TEXT}sequence-decls", f"{_TEXT}variable-decls", f"{_TEXT}user-field-decls",
    f"{_OFFICE}annotation", f"{_OFFICE}forms", f"{_TEXT}note-citation",
}  # fmt: skip
# LibreOffice writes the empty columns after a table's last one as one cell "repeated" up to 1,024 times.
_MAX_REPEAT = 1_024


class _Document:
    def __init__(self):
        self.blocks: list[str] = []
        self.length = 0
        self.in_list = False

    def add(self, block: str, list_item: bool = False) -> None:
        if not block.strip():
            return
        if list_item and self.in_list:
            self.blocks[-1] += "\n" + block  # a list's items one per line, as one block
        else:
            self.blocks.append(block)
        self.in_list = list_item
        self.length += len(block) + 2
        check_size(self.length)

    def inline(self, element, parts: list[str], later: list) -> None:
        """The text of a paragraph's content into `parts`; footnote bodies and frames' paragraphs into `later`."""
        if element.text:
            parts.append(element.text)
        for child in element:
            tag = child.tag
            if tag in _SKIPPED:
                pass
            elif tag == f"{_TEXT}s":
                parts.append(" " * min(int(child.get(f"{_TEXT}c", "1") or 1), 100))
            elif tag == f"{_TEXT}tab":
                parts.append("\t")
            elif tag == f"{_TEXT}line-break":
                parts.append("\n")
            elif tag in (f"{_TEXT}note-body", f"{_TEXT}p", f"{_TEXT}h", f"{_TEXT}list", f"{_TABLE}table"):
                later.append(child)  # a footnote's or a text frame's own paragraphs, after this one
            else:
                self.inline(child, parts, later)
            if child.tail:
                parts.append(child.tail)

    def paragraph(self, element, prefix: str = "") -> None:
        parts: list[str] = []
        later: list = []
        self.inline(element, parts, later)
        text = "".join(parts).strip()
        if element.tag == f"{_TEXT}h" and text:
            level = element.get(f"{_TEXT}outline-level", "1")
            prefix = "#" * min(max(int(level) if level.isdigit() else 1, 1), 6) + " "
            text = " ".join(text.split())
        self.add(prefix + text if text else "", list_item=bool(prefix) and not prefix.startswith("#"))
        for inner in later:
            self.block(inner)

    def block(self, element, prefix: str = "") -> None:
        tag = element.tag
        if tag in _SKIPPED:
            return
        if tag in (f"{_TEXT}p", f"{_TEXT}h"):
            self.paragraph(element, prefix)
        elif tag == f"{_TABLE}table":
            rows = self.table_rows(element)
            if rows:
                self.add(markdown_table(rows))
        elif tag == f"{_TEXT}list-item" or tag == f"{_TEXT}list-header":
            for position, child in enumerate(element):
                self.block(child, "- " if position == 0 else "  ")
        else:  # sections, lists, frames, note bodies: their paragraphs in order
            for child in element:
                self.block(child, prefix)

    def cell_text(self, cell) -> str:
        inner = _Document()
        for child in cell:
            inner.block(child)
        return " ".join(" ".join(inner.blocks).split())

    def table_rows(self, table) -> list[list[str]]:
        rows: list[list[str]] = []
        for row in table.iter(f"{_TABLE}table-row"):
            if row.getparent() is not table and row.getparent().getparent() is not table:
                continue  # a row of a table nested in a cell: read with that cell
            cells: list[str] = []
            for cell in row:
                if cell.tag not in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"):
                    continue
                text = self.cell_text(cell) if cell.tag == f"{_TABLE}table-cell" else ""
                repeat = int(cell.get(f"{_TABLE}number-columns-repeated", "1") or 1)
                cells.extend([text] * max(1, min(repeat, _MAX_REPEAT)))
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                rows.append(cells)
        if not rows:
            return []
        width = max(len(row) for row in rows)
        rows[0] = [*rows[0], *[""] * (width - len(rows[0]))]
        return rows


def extract_odt(data: bytes | io.IOBase) -> Extracted:
    document = _Document()
    with reading("ODT"):
        with open_archive(data, "ODT") as archive:
            content = parse_xml(archive.read("content.xml"))
        body = content.find("office:body/office:text", _NS)
        if body is None:
            return Extracted(text="")
        for element in body:
            document.block(element)
    text = normalize_text("\n\n".join(document.blocks))
    check_size(len(text))
    return Extracted(text=text)
