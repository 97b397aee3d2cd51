"""HTML: the main content (trafilatura) as Markdown, its data tables rendered here; a plain fallback.

trafilatura and lxml are imported inside the functions: only the parsing child process (bounded.run_isolated)
needs them.
"""

import secrets
from html.parser import HTMLParser

from sources.pipeline.bounded import out_of_memory
from sources.pipeline.plaintext import Extracted, check_size, decode_text, markdown_table, normalize_text


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
    check_size(len(html) // 4)
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
    check_size(len(text))
    return Extracted(text=text)
