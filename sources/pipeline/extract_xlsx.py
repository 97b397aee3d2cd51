"""XLSX: one section per worksheet — a `## sheet name` heading over the sheet as a Markdown table (its first
non-empty row the header, which the chunker repeats in every chunk that continues the table). Formulas give
their last computed value (what Excel shows); columns and rows empty throughout are left out.

The file is a zip: bounded.unpack_zip checks and unpacks it before openpyxl reads anything. openpyxl reads in
its streaming (read-only) mode and parses XML through defusedxml. It is imported inside the functions: only the
parsing child process (bounded.run_isolated) needs it.
"""

import datetime
import io

from sources.pipeline.bounded import unpack_zip
from sources.pipeline.plaintext import Extracted, check_size, markdown_table, normalize_text
from sources.pipeline.zipformats import reading


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"  # as Excel shows it: 0.1 + 0.2 is 0.3, 3.0 is 3
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _sheet_rows(sheet, length: int) -> list[list[str]]:
    """The sheet's non-empty rows with the columns that hold something in any row; `length` is the text so far."""
    # The declared dimensions can be wrong (or hostile: A1:XFD1048576); without them each row is as wide as its
    # own last cell instead of padded to the declared width.
    sheet.reset_dimensions()
    rows: list[list[str]] = []
    used: set[int] = set()
    for values in sheet.iter_rows(values_only=True):
        cells = [_cell(value) for value in values]
        filled = [index for index, cell in enumerate(cells) if cell.strip()]
        if not filled:
            continue
        used.update(filled)
        rows.append(cells[: filled[-1] + 1])
        length += sum(len(cell) + 3 for cell in rows[-1]) + 2
        check_size(length)
    columns = sorted(used)
    return [[row[index] if index < len(row) else "" for index in columns] for row in rows]


def extract_xlsx(data: bytes | io.IOBase) -> Extracted:
    import openpyxl

    blocks: list[str] = []
    length = 0
    with reading("XLSX"):  # read-only mode parses each sheet as it is read, so damage shows up here too
        workbook = openpyxl.load_workbook(unpack_zip(data, label="XLSX"), read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                rows = _sheet_rows(sheet, length)
                if not rows:
                    continue
                name = " ".join(str(sheet.title).split()) or "Sheet"
                blocks.append(f"## {name}\n\n{markdown_table(rows)}")
                length += len(blocks[-1]) + 2
                check_size(length)
        finally:
            workbook.close()
    text = normalize_text("\n\n".join(blocks))
    check_size(len(text))
    return Extracted(text=text)
