"""The formats beyond text, CSV, PDF, DOCX and HTML: PPTX, XLSX, ODT, EPUB, RTF, JSON, source code and
reStructuredText. Every file is a real one built here (python-pptx and openpyxl write the Office files; the
ODT and EPUB archives are assembled by hand, as small as their formats allow)."""

import datetime
import io
import json
import re
import zipfile

import pytest
from django.test import override_settings

from sources.pipeline.chunking import chunk_text
from sources.pipeline.extract import ExtractionError, extract_by_kind, kind_for_content_type

# --- files --------------------------------------------------------------------------------------------------


def pptx_file() -> bytes:
    """Three slides: a title slide, one with text, a table and speaker notes, one with a chart."""
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = "Bird migration"
    slide.placeholders[1].text = "Field notes from the ringing station"
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Routes"
    slide.placeholders[1].text_frame.text = "Swallows cross the Sahara in autumn."
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(5), Inches(6), Inches(1.2)).table
    for row, cells in enumerate([("Species", "Route"), ("Swallow", "Sahara | Nile"), ("Stork", "Bosporus")]):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    slide.notes_slide.notes_text_frame.text = "Mention the ringing records from 1998."
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Counts"
    data = CategoryChartData()
    data.categories = ["Spring", "Autumn"]
    data.add_series("Swallows", (120, 340.5))
    slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(4), data)
    output = io.BytesIO()
    deck.save(output)
    return output.getvalue()


def xlsx_file() -> bytes:
    """Two sheets with data (an empty column, a float, a date, a formula without a cached value) and an empty one."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Inventory"
    sheet.append(["Item", None, "Qty", "Price"])
    sheet.append(["Apples", None, 3, 0.1 + 0.2])
    sheet.append(["Pears | green", None, 5, 2.0])
    sheet["A6"] = "Total"
    sheet["C6"] = "=SUM(C2:C3)"
    dates = workbook.create_sheet("Dates")
    dates.append(["When", "What"])
    dates.append([datetime.datetime(2024, 5, 1), "Spring count"])
    workbook.create_sheet("Empty")
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _zip(members: dict[str, str | bytes]) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return output.getvalue()


ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">
 <office:body><office:text>
  <text:tracked-changes><text:changed-region text:id="c1"><text:deletion>
   <text:p>Deleted draft sentence.</text:p></text:deletion></text:changed-region></text:tracked-changes>
  <text:table-of-content><text:index-body><text:p>Ferries ... 1</text:p></text:index-body></text:table-of-content>
  <text:h text:outline-level="1">Ferries</text:h>
  <text:p>The ferry<text:s text:c="2"/>leaves at nine.<text:note text:note-class="footnote">
   <text:note-citation>1</text:note-citation><text:note-body><text:p>Except on Sundays.</text:p></text:note-body>
  </text:note></text:p>
  <text:h text:outline-level="2">Tickets</text:h>
  <text:list><text:list-item><text:p>Buy online</text:p></text:list-item>
   <text:list-item><text:p>Or at the <text:span>harbour</text:span> desk</text:p></text:list-item></text:list>
  <table:table table:name="Prices">
   <table:table-header-rows><table:table-row>
    <table:table-cell><text:p>Ticket</text:p></table:table-cell><table:table-cell><text:p>Price</text:p></table:table-cell>
    <table:table-cell table:number-columns-repeated="1000"/>
   </table:table-row></table:table-header-rows>
   <table:table-row><table:table-cell><text:p>Adult</text:p></table:table-cell>
    <table:table-cell><text:p>12 €</text:p></table:table-cell></table:table-row>
  </table:table>
 </office:text></office:body>
</office:document-content>"""


def odt_file(content: str = ODT_CONTENT) -> bytes:
    return _zip({
        "mimetype": "application/vnd.oasis.opendocument.text",
        "META-INF/manifest.xml": '<m:manifest xmlns:m="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        "content.xml": content,
    })  # fmt: skip


def _xhtml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        f'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>x</title></head><body>{body}</body></html>'
    )


def epub_file() -> bytes:
    """An EPUB 3: a navigation document (left out) and two chapters, the second listed first in the manifest."""
    package = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
 <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:x</dc:identifier>
  <dc:title>The Lighthouse Keeper</dc:title><dc:language>en</dc:language></metadata>
 <manifest>
  <item id="two" href="text/chapter%202.xhtml" media-type="application/xhtml+xml"/>
  <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
  <item id="one" href="text/chapter1.xhtml" media-type="application/xhtml+xml"/>
  <item id="css" href="style.css" media-type="text/css"/>
 </manifest>
 <spine><itemref idref="nav"/><itemref idref="one"/><itemref idref="two"/></spine>
</package>"""
    return _zip({
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"
        ),
        "OEBPS/book.opf": package,
        "OEBPS/nav.xhtml": _xhtml('<nav epub:type="toc"><ol><li>Chapter One</li><li>Chapter Two</li></ol></nav>'),
        "OEBPS/style.css": "p { margin: 0 }",
        "OEBPS/text/chapter1.xhtml": _xhtml(
            "<h1>Chapter One</h1><p>The lamp was lit at&#160;dusk,\n   every   evening.</p>"
            "<h2>The storm</h2><p>Waves broke over the rocks.</p><ul><li>oil</li><li>wicks</li></ul>"
        ),
        "OEBPS/text/chapter 2.xhtml": _xhtml(
            "<h1>Chapter Two</h1><table><tr><th>Ship</th><th>Year</th></tr><tr><td>Aurora</td><td>1901</td></tr>"
            "</table><pre>log:\n  # calm sea</pre>"
        ),
    })  # fmt: skip


RTF_FILE = (
    rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}}{\colortbl;\red0\green0\blue0;}"
    rb"{\*\generator Example;}\f0\pard Caf\'e9 opening hours\par"
    rb"\pard Monday to Friday, {\b eight} to six.\par"
    rb"{\pict\pngblip 89504e470d0a1a0a}}"
)


def _sections(text: str, title: str, page_starts=(), size: int = 12) -> list[tuple[str, int | None, str]]:
    """(section, page, text) of each chunk, chunked small so that every section gets chunks of its own."""
    chunks = chunk_text(text, chunk_size=size, overlap=0, page_starts=list(page_starts), title=title)
    return [(chunk.section, chunk.page, chunk.text) for chunk in chunks]


def _section_of(chunks, needle: str) -> tuple[str, int | None]:
    section, page, _ = next(chunk for chunk in chunks if needle in chunk[2])
    return section, page


# --- the formats --------------------------------------------------------------------------------------------


def test_pptx_gives_a_section_per_slide_with_its_number_as_the_page():
    extracted = extract_by_kind("pptx", pptx_file())

    assert extracted.text == (
        "## Slide 1: Bird migration\n\nField notes from the ringing station\n\n"
        "## Slide 2: Routes\n\nSwallows cross the Sahara in autumn.\n\n"
        "| Species | Route |\n|---|---|\n| Swallow | Sahara \\| Nile |\n| Stork | Bosporus |\n\n"
        "Notes: Mention the ringing records from 1998.\n\n"
        "## Slide 3: Counts\n\nChart\n\n| | Swallows |\n|---|---|\n| Spring | 120 |\n| Autumn | 340.5 |"
    )
    assert extracted.page_count == 3
    chunks = _sections(extracted.text, "deck.pptx", extracted.page_starts)
    assert _section_of(chunks, "Sahara in autumn") == ("deck.pptx › Slide 2: Routes", 2)
    assert _section_of(chunks, "ringing records") == ("deck.pptx › Slide 2: Routes", 2)
    assert _section_of(chunks, "Autumn | 340.5") == ("deck.pptx › Slide 3: Counts", 3)


def test_xlsx_gives_a_section_per_sheet_as_a_table():
    extracted = extract_by_kind("xlsx", xlsx_file())

    # The empty column B and the empty sheet are left out; a formula with no computed value is an empty cell.
    assert extracted.text == (
        "## Inventory\n\n| Item | Qty | Price |\n|---|---|---|\n| Apples | 3 | 0.3 |\n"
        "| Pears \\| green | 5 | 2 |\n| Total | | |\n\n"
        "## Dates\n\n| When | What |\n|---|---|\n| 2024-05-01 | Spring count |"
    )
    chunks = _sections(extracted.text, "stock.xlsx")
    assert _section_of(chunks, "Spring count")[0] == "stock.xlsx › Dates"
    assert _section_of(chunks, "Apples")[0] == "stock.xlsx › Inventory"


def test_odt_keeps_headings_lists_tables_and_footnotes_but_not_deletions_or_indexes():
    extracted = extract_by_kind("odt", odt_file())

    assert extracted.text == (
        "# Ferries\n\nThe ferry leaves at nine.\n\nExcept on Sundays.\n\n## Tickets\n\n"
        "- Buy online\n- Or at the harbour desk\n\n| Ticket | Price |\n|---|---|\n| Adult | 12 € |"
    )
    assert _section_of(_sections(extracted.text, "ferries.odt"), "Adult")[0] == "Ferries › Tickets"


def test_epub_reads_the_chapters_in_spine_order_under_the_book_title():
    extracted = extract_by_kind("epub", epub_file())

    assert extracted.text == (
        "# The Lighthouse Keeper\n\n# Chapter One\n\nThe lamp was lit at dusk, every evening.\n\n"
        "## The storm\n\nWaves broke over the rocks.\n\n- oil\n- wicks\n\n"
        "# Chapter Two\n\n| Ship | Year |\n|---|---|\n| Aurora | 1901 |\n\n```\nlog:\n# calm sea\n```"
    )
    chunks = _sections(extracted.text, "book.epub")
    assert _section_of(chunks, "Waves broke")[0] == "The Lighthouse Keeper › Chapter One › The storm"
    # The fenced log's "# calm sea" is not a heading.
    assert _section_of(chunks, "calm sea")[0] == "The Lighthouse Keeper › Chapter Two"


def test_rtf_gives_its_text_without_pictures_or_font_tables():
    assert extract_by_kind("rtf", RTF_FILE).text == "Café opening hours\nMonday to Friday, eight to six."
    with pytest.raises(ExtractionError, match="not an RTF document"):
        extract_by_kind("rtf", b"PK\x03\x04 a zip named .rtf")


def test_json_keys_become_headings_and_records_a_table():
    document = {
        "name": "ferry-api",
        "servers": [{"host": "a.example", "port": 443}, {"host": "b.example", "port": 8443, "tls": False}],
        "routes": {"north": {"departures": ["09:00", "13:00"], "notes": "Calm\nwater"}},
    }
    extracted = extract_by_kind("json", json.dumps(document).encode())

    assert extracted.text == (
        "name: ferry-api\n\n## servers\n\n| host | port | tls |\n|---|---|---|\n| a.example | 443 | |\n"
        "| b.example | 8443 | false |\n\n## routes\n\n### north\n\n#### departures\n\n- 09:00\n- 13:00\n\n"
        "notes: Calm water"
    )
    chunks = _sections(extracted.text, "api.json")
    assert _section_of(chunks, "13:00")[0] == "api.json › routes › north › departures"


def test_json_lines_invalid_json_and_deep_nesting():
    assert extract_by_kind("json", b'{"a": 1}\n{"a": 2, "b": "x"}\n').text == "| a | b |\n|---|---|\n| 1 | |\n| 2 | x |"
    # Not JSON (a comment, a trailing comma): indexed as the text it is.
    assert extract_by_kind("json", b'// settings\n{"a": 1,}').text == '// settings\n{"a": 1,}'
    deep = {"a": {"b": {"c": {"d": {"e": {"f": [1, {"g": 2}]}}}}}}
    assert extract_by_kind("json", json.dumps(deep).encode()).text.endswith('###### e\n\nf: [1, {"g": 2}]')
    with pytest.raises(ExtractionError, match="nested too deeply"):
        extract_by_kind("json", b"[" * 200_000 + b"]" * 200_000)


def test_code_is_kept_verbatim_in_a_fence_so_comments_are_not_headings():
    source = b"#!/bin/sh\r\n# Install the tools\r\nset -e   \r\n\tmake   all\r\necho '````'\r\n"

    extracted = extract_by_kind("code", source, filename="scripts/setup.SH")

    assert extracted.text == "`````bash\n#!/bin/sh\n# Install the tools\nset -e\n\tmake   all\necho '````'\n`````"
    chunks = _sections(extracted.text, "scripts/setup.sh", size=8)
    assert len(chunks) > 1 and {section for section, _, _ in chunks} == {"scripts/setup.sh"}
    assert extract_by_kind("code", b"key = 1\n", filename="conf.toml").text == "```toml\nkey = 1\n```"


def test_rst_section_titles_become_headings():
    source = (
        b"==========\n Handbook\n==========\n\nWelcome.\n\nInstall\n-------\n\nRun it::\n\n    pip install x\n"
        b"    -------------\n\nUsage\n-----\nDaily\n~~~~~\n\nOpen the app.\n\nNot a title\n---\n"
    )

    extracted = extract_by_kind("rst", source)

    assert extracted.text == (
        "# Handbook\n\nWelcome.\n\n## Install\n\nRun it::\n\npip install x\n-------------\n\n"
        "## Usage\n### Daily\n\nOpen the app.\n\nNot a title\n---"
    )
    assert _section_of(_sections(extracted.text, "guide.rst"), "Open the app")[0] == "Handbook › Usage › Daily"


def test_fetched_urls_dispatch_the_new_media_types():
    office = "application/vnd.openxmlformats-officedocument"
    assert kind_for_content_type(f"{office}.presentationml.presentation", b"PK") == "pptx"
    assert kind_for_content_type(f"{office}.spreadsheetml.sheet", b"PK") == "xlsx"
    assert kind_for_content_type(f"{office}.wordprocessingml.document", b"PK") == "docx"
    assert kind_for_content_type("application/vnd.oasis.opendocument.text", b"PK") == "odt"
    assert kind_for_content_type("application/epub+zip", b"PK") == "epub"
    assert kind_for_content_type("text/rtf", b"{\\rtf1") == "rtf"
    assert kind_for_content_type("application/json; charset=utf-8", b"{") == "json"
    assert kind_for_content_type("application/ld+json", b"{") == "json"
    assert kind_for_content_type("text/x-rst", b"") == "rst"


# --- limits and damage --------------------------------------------------------------------------------------

ZIP_KINDS = [("pptx", pptx_file), ("xlsx", xlsx_file), ("odt", odt_file), ("epub", epub_file)]


def _with_member(archive: bytes, name: str, data: bytes) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as copy:
        for entry in source.infolist():
            copy.writestr(entry, source.read(entry.filename))
        copy.writestr(name, data)
    return output.getvalue()


@pytest.mark.parametrize(("kind", "build"), ZIP_KINDS)
def test_a_zip_bomb_is_refused_before_the_parser_reads_it(kind, build):
    # 30 MB of zeros deflate to ~30 KB: a ratio of ~1,000, ten times MAX_ARCHIVE_RATIO.
    bomb = _with_member(build(), "media/padding.bin", bytes(30_000_000))
    assert len(bomb) < 100_000

    with pytest.raises(ExtractionError, match=rf"The {kind.upper()} file is compressed suspiciously well"):
        extract_by_kind(kind, bomb)


@pytest.mark.parametrize(("kind", "build"), ZIP_KINDS)
def test_an_archive_over_the_unpacked_size_limit_is_refused(kind, build):
    with override_settings(MAX_ARCHIVE_UNCOMPRESSED_BYTES=1_000), pytest.raises(ExtractionError) as refused:
        extract_by_kind(kind, build())

    assert str(refused.value).startswith(f"The {kind.upper()} file unpacks to more than 1,000 bytes")


@pytest.mark.parametrize(("kind", "build"), ZIP_KINDS)
def test_a_damaged_or_mislabelled_file_fails_with_a_message(kind, build):
    with pytest.raises(ExtractionError, match=rf"Could not read the {kind.upper()} file \(it may be damaged\)"):
        extract_by_kind(kind, build()[:300])  # cut short
    other = epub_file() if kind != "epub" else odt_file()  # a valid zip, but another format
    with pytest.raises(ExtractionError, match=rf"Could not read the {kind.upper()} file \(it may be damaged\)"):
        extract_by_kind(kind, other)


def _xlsx_with_sheet_xml(change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(xlsx_file()))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as copy:
        for entry in source.infolist():
            data = source.read(entry.filename)
            copy.writestr(entry.filename, change(data) if entry.filename == "xl/worksheets/sheet1.xml" else data)
    return output.getvalue()


def test_xlsx_declared_dimensions_are_not_trusted():
    # A sheet claiming all 16,384 columns × 1,048,576 rows would pad every row read to that width.
    huge = _xlsx_with_sheet_xml(
        lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)
    )

    assert extract_by_kind("xlsx", huge).text == extract_by_kind("xlsx", xlsx_file()).text


def test_xlsx_xml_entity_declarations_are_refused():
    # defusedxml (which openpyxl uses when it is installed) refuses entity declarations, so no billion laughs;
    # Python's own XML parser would read this sheet (and expand its entities) without a word.
    laughs = b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    bomb = _xlsx_with_sheet_xml(lambda xml: laughs + xml)

    with pytest.raises(ExtractionError, match=r"Could not read the XLSX file \(it may be damaged\)"):
        extract_by_kind("xlsx", bomb)
