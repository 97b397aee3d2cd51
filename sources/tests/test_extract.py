"""Every supported format, extracted from files generated in the test."""

import io

import pytest
from django.test import override_settings

from sources.pipeline.extract import (
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


def test_markdown_and_csv_keep_their_structure():
    text = extract_by_kind("text", b"# Title\n\nBody line.\n\n\n\nNext paragraph.").text
    assert text == "# Title\n\nBody line.\n\nNext paragraph."
    assert extract_by_kind("text", b"name,qty\napple,3\npear,5\n").text == "name,qty\napple,3\npear,5"


def test_pdf_pages_keep_their_numbers():
    extracted = extract_pdf(_pdf(["First page about apples.", "Second page about pears.", "Third page."]))
    assert extracted.page_count == 3
    assert [number for _, number in extracted.page_starts] == [1, 2, 3]
    offset, _ = extracted.page_starts[1]
    assert extracted.text[offset:].startswith("Second page about pears.")


def test_damaged_pdf_is_a_readable_error():
    with pytest.raises(ExtractionError, match="Could not read the PDF"):
        extract_pdf(b"%PDF-1.4 this is not really a pdf")


def test_docx_includes_headings_and_tables_in_order():
    text = extract_docx(_docx()).text
    assert text.index("# Quarterly report") < text.index("Revenue grew") < text.index("Region | Sales")
    assert "North | 42" in text and text.endswith("Closing remarks.")


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
    assert kind_for_content_type("text/html; charset=utf-8", b"") == "html"
    assert kind_for_content_type("application/pdf", b"") == "pdf"
    assert kind_for_content_type("text/plain", b"") == "text"
    assert kind_for_content_type("", b"%PDF-1.7") == "pdf"
    assert kind_for_content_type("image/png", b"\x89PNG") is None


def test_large_texts_are_normalised_in_blocks_with_the_same_result(monkeypatch):
    import random

    from sources.pipeline import extract

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
