"""DOCX: paragraphs (headings from their styles as Markdown `#` lines) and tables, in document order.

python-docx is imported inside the functions: only the parsing child process (bounded.run_isolated) needs it.
"""

import io

from sources.pipeline.bounded import LimitExceeded, out_of_memory, unpack_zip
from sources.pipeline.plaintext import Extracted, ExtractionError, check_size, markdown_table, normalize_text


def _open_docx(data: bytes | io.IOBase):
    """(document, {paragraph style id: style name}, the default paragraph style's name)."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE

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
    return document, style_names, default_name


def _table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A cell merged across columns comes once per column: its text goes in the first only. A
            # cell merged down rows keeps its text in each, so that every row reads on its own.
            cells.append("" if cell._tc is previous else cell.text)
            previous = cell._tc
        if any(cell.strip() for cell in cells):
            rows.append(cells)
    return rows


def extract_docx(data: bytes | io.IOBase) -> Extracted:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document, style_names, default_name = _open_docx(data)
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
            rows = _table_rows(Table(element, document))
            if rows:
                blocks.append(markdown_table(rows))
        else:
            continue
        length += len(blocks[-1]) + 2
        check_size(length)
    return Extracted(text=normalize_text("\n\n".join(blocks)))
