"""PPTX: one section per slide — a `## Slide N: title` heading, then its text boxes in reading order (top to
bottom, left to right), its tables as Markdown, its charts' data as a table, image descriptions and the speaker
notes. The slide number is the chunk's page.

The file is a zip: bounded.unpack_zip checks and unpacks it before python-pptx reads anything. python-pptx is
imported inside the functions: only the parsing child process (bounded.run_isolated) needs it.
"""

import io

from sources.pipeline.bounded import unpack_zip
from sources.pipeline.plaintext import Extracted, check_size, markdown_table, normalize_text
from sources.pipeline.zipformats import reading


def _reading_order(shapes) -> list:
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _table(shape) -> str:
    rows = []
    for row in shape.table.rows:
        # A merged cell's text is in its first cell; the cells it spans over repeat nothing.
        cells = ["" if cell.is_spanned else cell.text for cell in row.cells]
        if any(cell.strip() for cell in cells):
            rows.append(cells)
    return markdown_table(rows) if rows else ""


def _chart(shape) -> str:
    """The chart's title and its data: one row per category, one column per series."""
    chart = shape.chart
    title = chart.chart_title.text_frame.text.strip() if chart.has_title else ""
    lines = [f"Chart: {title}" if title else "Chart"]
    try:
        plot = chart.plots[0]
        categories = [str(category) for category in plot.categories]
        series = list(plot.series)
    except (IndexError, KeyError, ValueError, AttributeError):  # a chart without a plot or with odd data
        return lines[0]
    if series and categories:
        header = ["", *(item.name or "" for item in series)]
        columns = [list(item.values) for item in series]
        rows = [
            [category, *("" if index >= len(column) or column[index] is None else f"{column[index]:.15g}"
                         for column in columns)]
            for index, category in enumerate(categories)
        ]  # fmt: skip
        lines.append(markdown_table([header, *rows]))
    return "\n\n".join(lines)


def _description(shape) -> str:
    """An image's description (its alt text), which PowerPoint keeps in the shape's non-visual properties."""
    found = shape.element.xpath("./*[1]/p:cNvPr/@descr")
    return " ".join(str(found[0]).split()) if found else ""


def _shape_blocks(shape, title_id: int | None) -> list[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_id == title_id:
        return []
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [block for inner in _reading_order(shape.shapes) for block in _shape_blocks(inner, title_id)]
    if shape.has_table:
        return [_table(shape)]
    if shape.has_chart:
        return [_chart(shape)]
    blocks = []
    if shape.shape_type == MSO_SHAPE_TYPE.PICTURE and (description := _description(shape)):
        blocks.append(f"Image: {description}")
    if shape.has_text_frame:
        blocks.append("\n".join(paragraph.text for paragraph in shape.text_frame.paragraphs))
    return blocks


def _slide_text(slide, number: int) -> str:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
    blocks = [f"## Slide {number}: {title}" if title else f"## Slide {number}"]
    title_id = title_shape.shape_id if title_shape is not None else None
    for shape in _reading_order(slide.shapes):
        blocks.extend(block for block in _shape_blocks(shape, title_id) if block.strip())
    if slide.has_notes_slide and (notes := slide.notes_slide.notes_text_frame) is not None and notes.text.strip():
        blocks.append(f"Notes: {notes.text}")
    return normalize_text("\n\n".join(blocks))


def extract_pptx(data: bytes | io.IOBase) -> Extracted:
    from pptx import Presentation

    parts: list[str] = []
    page_starts: list[tuple[int, int]] = []
    length = 0
    with reading("PPTX"):  # python-pptx reads a slide's parts when it is first used, so damage shows up here too
        presentation = Presentation(unpack_zip(data, label="PPTX"))
        for number, slide in enumerate(presentation.slides, start=1):
            if parts:
                length += 2  # the "\n\n" joining slides
            page_starts.append((length, number))
            parts.append(_slide_text(slide, number))
            length += len(parts[-1])
            check_size(length)
    return Extracted(text="\n\n".join(parts), page_starts=page_starts, page_count=len(parts))
