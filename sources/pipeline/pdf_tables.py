"""Ruled tables of PDF pages as Markdown, through pdfplumber, on the pages that draw a grid."""

import io
import logging
import re
import time
from dataclasses import dataclass

from django.conf import settings

from sources.pipeline.bounded import out_of_memory
from sources.pipeline.plaintext import markdown_table

logger = logging.getLogger("minirag.ingest")

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
class PdfPage:
    number: int
    text: str
    # The font size of each line of `text` (split on "\n"), None where unknown (table rows, unmatched text).
    sizes: list[float | None]


class PdfTables:
    """Ruled tables of PDF pages as Markdown, through pdfplumber (opened on the first page that may hold one).

    Only pages whose content draws lines or rectangles are parsed: pdfplumber's line strategy needs those, and
    its text-alignment strategy finds tables in ordinary paragraphs."""

    def __init__(self, data: bytes):
        self.data = data
        self.pdf = None
        self.spent = 0.0
        timeout = getattr(settings, "EXTRACTION_TIMEOUT_SECONDS", 0) or 0
        self.budget = timeout * PDF_TABLE_TIME_SHARE if timeout else None

    def page(self, page, number: int) -> PdfPage | None:
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

    def _page(self, number: int) -> PdfPage | None:
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
            return PdfPage(
                number,
                "\n".join(text for _, text, _ in blocks),
                [size for _, _, sizes in blocks for size in sizes],
            )
        finally:
            page.close()

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()
