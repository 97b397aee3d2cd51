"""Every supported format, extracted from files generated in the test."""

import io

import pytest
from django.test import override_settings

from sources.pipeline.extract import (
    UPLOAD_KINDS,
    ExtractionError,
    extract_by_kind,
    extract_docx,
    extract_html,
    extract_pdf,
    extract_text,
    kind_for_content_type,
    normalize_text,
)


def _pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew by twelve percent.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Sales"
    table.cell(1, 0).text, table.cell(1, 1).text = "North", "42"
    document.add_paragraph("Closing remarks.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_plain_text_utf8_and_detected_charset():
    assert extract_text("Grüße aus Köln".encode()).text == "Grüße aus Köln"
    assert extract_text("\ufeffwith BOM".encode()).text == "with BOM"
    latin1 = ("Le café est très chaud et le garçon répond: déjà fini. " * 5).encode("cp1252")
    assert "café" in extract_text(latin1).text


def test_markdown_keeps_its_structure():
    text = extract_by_kind("text", b"# Title\n\nBody line.\n\n\n\nNext paragraph.").text
    assert text == "# Title\n\nBody line.\n\nNext paragraph."
    assert extract_by_kind("text", b"name,qty\napple,3\npear,5\n").text == "name,qty\napple,3\npear,5"


def test_csv_becomes_a_markdown_table_in_its_own_dialect():
    assert UPLOAD_KINDS[".csv"] == "csv"
    assert extract_by_kind("csv", b"name,qty\r\napple,3\r\n\r\npear,5\r\n").text == (
        "| name | qty |\n|---|---|\n| apple | 3 |\n| pear | 5 |"
    )
    semicolons = 'Produkt;Menge;Notiz\nÄpfel;3;"rot; frisch"\nBirnen;5\n'.encode("cp1252")
    assert extract_by_kind("csv", semicolons).text == (
        "| Produkt | Menge | Notiz |\n|---|---|---|\n| Äpfel | 3 | rot; frisch |\n| Birnen | 5 | |"
    )
    pipes = extract_by_kind("csv", b'topic,how\nlaptop,"call IT | ext 4400\nor mail"\n').text
    assert pipes.splitlines()[2] == "| laptop | call IT \\| ext 4400 or mail |"


def test_a_csv_the_csv_module_cannot_read_is_indexed_as_text():
    huge_field = b'a,b\n"' + b"x" * 200_000 + b'",1\n'  # over the csv module's field size limit
    text = extract_by_kind("csv", huge_field).text
    assert text.startswith("a,b\n") and "|" not in text


@override_settings(MAX_EXTRACTED_CHARS=60)
def test_a_csv_table_larger_than_the_limit_is_refused():
    with pytest.raises(ExtractionError, match="limit of 60 characters"):
        extract_by_kind("csv", b"1,2\n" * 12)  # 48 bytes, but the table is longer


def test_pdf_pages_keep_their_numbers():
    extracted = extract_pdf(_pdf(["First page about apples.", "Second page about pears.", "Third page."]))
    assert extracted.page_count == 3
    assert [number for _, number in extracted.page_starts] == [1, 2, 3]
    offset, _ = extracted.page_starts[1]
    assert extracted.text[offset:].startswith("Second page about pears.")


def _pdf_with_tables() -> bytes:
    """Three pages: a title, section headings in larger fonts, a running header in a large font on every page,
    body text, and a ruled table on page 2."""
    from fpdf import FPDF

    pdf = FPDF()
    for number, (heading, body) in enumerate(
        [("Laptops", "Keep your laptop locked."), ("Contacts", "Call the right desk."), ("Travel", "Book early.")],
        start=1,
    ):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, "ACME Corp", new_x="LMARGIN", new_y="NEXT")  # the same big line on every page
        if number == 1:
            pdf.set_font("Helvetica", "B", 24)
            pdf.cell(0, 14, "Employee Handbook", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for _ in range(4):
            pdf.multi_cell(0, 6, f"{body} This paragraph explains the policy in plain words for everyone.",
                           new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        if number == 2:
            with pdf.table() as table:
                for cells in (("Topic", "Extension"), ("Lost laptop", "4400"), ("Payroll", "4100")):
                    row = table.row()
                    for cell in cells:
                        row.cell(cell)
            pdf.multi_cell(0, 6, "After the table.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_pdf_tables_become_markdown_rows_and_headings_come_from_font_sizes():
    extracted = extract_pdf(_pdf_with_tables())
    text = extracted.text
    assert "| Topic | Extension |\n|---|---|\n| Lost laptop | 4400 |\n| Payroll | 4100 |\n\nAfter the table." in text
    assert text.startswith("ACME Corp\n\n# Employee Handbook\n\n## Laptops\n\nKeep your laptop locked.")
    assert "\n## Contacts\n" in text and "\n## Travel\n" in text
    assert "# ACME Corp" not in text  # a running header is no heading
    assert [number for _, number in extracted.page_starts] == [1, 2, 3]
    for offset, number in extracted.page_starts:
        assert text[offset:].startswith("ACME Corp"), number


def test_pdf_tables_are_read_in_the_extraction_child():
    assert "| Lost laptop | 4400 |" in extract_by_kind("pdf", _pdf_with_tables()).text


def test_pdf_boxes_and_comment_lines_are_neither_tables_nor_headings():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "A paragraph in a box.\nIts second line.", border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "# install the package\npip install minirag", new_x="LMARGIN", new_y="NEXT")
    text = extract_pdf(bytes(pdf.output())).text
    assert "|" not in text
    assert "\\# install the package\npip install minirag" in text


def test_pdf_without_distinct_font_sizes_gets_no_headings():
    text = extract_pdf(_pdf(["Short line\nAnother short line", "Third line"])).text
    assert "#" not in text


def test_damaged_pdf_is_a_readable_error():
    with pytest.raises(ExtractionError, match="Could not read the PDF"):
        extract_pdf(b"%PDF-1.4 this is not really a pdf")


def test_docx_includes_headings_and_tables_in_order():
    text = extract_docx(_docx()).text
    assert text.index("# Quarterly report") < text.index("Revenue grew") < text.index("| Region | Sales |")
    assert "| Region | Sales |\n|---|---|\n| North | 42 |\n\nClosing remarks." in text
    assert text.endswith("Closing remarks.")


def test_docx_merged_cells_keep_the_table_grid():
    import docx

    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate([["Team", "", "Phone"], ["IT", "Desk", "4400"], ["HR", "Office", "4100"]]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table.cell(0, 0).merge(table.cell(0, 1))  # "Team" spans two columns
    table.cell(1, 2).merge(table.cell(2, 2))  # one phone number for both rows
    table.cell(1, 2).text = "4400 | 4100"
    buffer = io.BytesIO()
    document.save(buffer)
    assert extract_docx(buffer.getvalue()).text == (
        "| Team | | Phone |\n|---|---|---|\n| IT | Desk | 4400 \\| 4100 |\n| HR | Office | 4400 \\| 4100 |"
    )


def test_html_main_content_without_boilerplate():
    html = (
        "<html><head><title>t</title><style>body{color:red}</style><script>var secret=1;</script></head><body>"
        "<nav>Home | About</nav><article><h1>Deep sea creatures</h1>"
        + "<p>The anglerfish uses a glowing lure to attract prey in the dark ocean depths.</p>" * 3
        + "</article></body></html>"
    )
    text = extract_html(html.encode()).text
    assert "anglerfish" in text
    assert "secret" not in text and "color:red" not in text


def test_html_tables_become_markdown_tables():
    html = (
        "<html><body><article><h1>Handbook</h1>"
        + "<p>Everything a new employee needs to know about devices, travel and who to call.</p>" * 3
        + "<table><caption>Contacts</caption><tr><td>Topic</td><td>Extension</td><td>Hours</td></tr>"
        "<tr><td rowspan='2'>Lost laptop<br>or phone</td><td>4400</td><td>24/7</td></tr>"
        "<tr><td colspan='2'>Payroll | pay slips</td></tr>"
        "<tr><td><p>Travel.</p><p>Bookings</p></td><td>4300</td><td>9-17</td></tr></table>"
        "<p>Closing paragraph with enough words to count as content for the extractor.</p></article></body></html>"
    )
    text = extract_html(html.encode()).text
    assert (
        "Contacts\n\n| Topic | Extension | Hours |\n|---|---|---|\n| Lost laptop or phone | 4400 | 24/7 |\n"
        "| Lost laptop or phone | Payroll \\| pay slips | |\n| Travel. Bookings | 4300 | 9-17 |\n\nClosing paragraph"
    ) in text


def test_html_tables_survive_when_the_main_content_extractor_falls_back():
    # trafilatura reads this page with its baseline extractor, which flattens a table to one cell a line
    html = (
        "<html><body><div class='content'><h2>Prices</h2><table><tr><th>Plan</th><th>Price</th></tr>"
        "<tr><td>Basic</td><td>10</td></tr></table><p>All prices in euro, including value added tax.</p></div>"
        "</body></html>"
    )
    assert "| Plan | Price |\n|---|---|\n| Basic | 10 |" in extract_html(html.encode()).text


def test_tiny_html_falls_back_to_plain_parser():
    assert "Hello there" in extract_html(b"<p>Hello there</p>").text


def test_normalisation_keeps_words_apart_and_drops_control_characters():
    assert normalize_text("two\u00a0words") == "two words"
    assert normalize_text("a\x00b\r\nc\t\t d\n\n\n\n\ne") == "ab\nc d\n\ne"


@override_settings(MAX_EXTRACTED_CHARS=50)
def test_extracted_size_limit():
    with pytest.raises(ExtractionError, match="limit of 50 characters"):
        extract_text(b"x " * 100)


def test_content_type_dispatch():
    assert kind_for_content_type("text/csv; charset=utf-8", b"") == "csv"
    assert kind_for_content_type("text/html; charset=utf-8", b"") == "html"
    assert kind_for_content_type("application/pdf", b"") == "pdf"
    assert kind_for_content_type("text/plain", b"") == "text"
    assert kind_for_content_type("", b"%PDF-1.7") == "pdf"
    assert kind_for_content_type("image/png", b"\x89PNG") is None


def test_large_texts_are_normalised_in_blocks_with_the_same_result(monkeypatch):
    import random

    from sources.pipeline import plaintext as extract  # normalisation lives there (extract re-exports it)

    rng = random.Random(11)
    alphabet = [
        "word",
        "x.",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "\u00a0",
        "\u200b",
        "e\u0301",
        "\x00",
        " \n ",
        "\n\n\n",
    ]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        monkeypatch.setattr(extract, "_BLOCK_CHARS", 10**9)
        whole = extract.normalize_text(text)
        monkeypatch.setattr(extract, "_BLOCK_CHARS", 16)
        assert extract.normalize_text(text) == whole
