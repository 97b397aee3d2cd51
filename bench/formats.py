"""Extraction time of the document formats added in issue 13, on generated files of a realistic size.

    .venv/bin/python bench/formats.py [--runs 3]

Each file is built here (python-pptx and openpyxl write the Office files, the ODT and EPUB archives are
assembled, fpdf2 writes a PDF for comparison) and extracted the way ingestion extracts it:
`sources.pipeline.extract.extract_by_kind`, i.e. in the extraction child process under its time and memory
limits for the parsed formats (the child's start is part of the time), then chunked like a bot's default
(512 tokens, 64 overlap). Printed per format: file size, extracted characters, chunks, median wall time of
extraction and of chunking over `--runs`, and the CPU seconds of the extraction children. No database needed.
"""

import argparse
import io
import json
import os
import random
import resource
import statistics
import sys
import time
import zipfile

from _setup import bench_environment

WORDS = (
    "harbour storm lighthouse signal fisherman festival season chart bakery bread river valley mountain engine "
    "turbine voltage circuit protocol packet latency server archive ledger invoice contract clause tenant policy"
).split()
RANDOM = random.Random(13)


def sentence(words: int = 14) -> str:
    return " ".join(RANDOM.choice(WORDS) for _ in range(words)).capitalize() + "."


def pptx_deck(slides: int) -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for number in range(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide {number}: {sentence(4)}"
        frame = slide.placeholders[1].text_frame
        frame.text = sentence()
        for _ in range(4):
            frame.add_paragraph().text = sentence()
        if number % 3 == 0:
            table = slide.shapes.add_table(4, 3, Inches(1), Inches(5), Inches(6), Inches(1.2)).table
            for row in range(4):
                for column in range(3):
                    table.cell(row, column).text = RANDOM.choice(WORDS)
        slide.notes_slide.notes_text_frame.text = sentence(30)
    output = io.BytesIO()
    deck.save(output)
    return output.getvalue()


def xlsx_workbook(rows: int) -> bytes:
    import openpyxl

    # Not write_only: that mode leaves out the <dimension> element Excel writes first, and openpyxl's reader
    # then reads the whole sheet once more to find it.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Orders"
    sheet.append(["Order", "Customer", "Item", "Quantity", "Price", "Note"])
    for row in range(rows):
        sheet.append([row, RANDOM.choice(WORDS), RANDOM.choice(WORDS), row % 17, round(row * 0.37, 2), sentence(6)])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _zip(members: dict[str, str]) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return output.getvalue()


def odt_document(sections: int) -> bytes:
    body = []
    for number in range(sections):
        body.append(f'<text:h text:outline-level="1">Section {number}</text:h>')
        body.extend(f"<text:p>{sentence()} {sentence()}</text:p>" for _ in range(5))
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">'
        f"<office:body><office:text>{''.join(body)}</office:text></office:body></office:document-content>"
    )
    return _zip({
        "mimetype": "application/vnd.oasis.opendocument.text",
        "META-INF/manifest.xml": '<m:manifest xmlns:m="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        "content.xml": content,
    })  # fmt: skip


def epub_book(chapters: int) -> bytes:
    def xhtml(body: str) -> str:
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>x</title></head><body>{body}</body></html>"
        )

    members = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"
        ),
    }
    manifest, spine = [], []
    for number in range(chapters):
        paragraphs = "".join(f"<p>{sentence()} {sentence()} {sentence()}</p>" for _ in range(12))
        members[f"OEBPS/ch{number}.xhtml"] = xhtml(f"<h1>Chapter {number}</h1>{paragraphs}")
        manifest.append(f'<item id="c{number}" href="ch{number}.xhtml" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="c{number}"/>')
    members["OEBPS/book.opf"] = (
        '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">urn:x</dc:identifier><dc:title>Bench book</dc:title></metadata>'
        f"<manifest>{''.join(manifest)}</manifest><spine>{''.join(spine)}</spine></package>"
    )
    return _zip(members)


def rtf_document(paragraphs: int) -> bytes:
    body = "".join(f"\\pard {sentence()} {{\\b {RANDOM.choice(WORDS)}}} {sentence()}\\par\n" for _ in range(paragraphs))
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Helvetica;}}\\f0\n" + body + "}").encode()


def json_records(records: int) -> bytes:
    rows = [
        {"id": n, "name": RANDOM.choice(WORDS), "city": RANDOM.choice(WORDS), "note": sentence(8)}
        for n in range(records)
    ]
    return json.dumps({"catalogue": {"title": "Bench", "items": rows}}).encode()


def code_file(lines: int) -> bytes:
    out = []
    for number in range(lines // 5):
        out += [f"def function_{number}(value):", f'    """{sentence(8)}"""', "    # why: " + sentence(6),
                f"    return value * {number}", ""]  # fmt: skip
    return "\n".join(out).encode()


def rst_document(sections: int) -> bytes:
    out = ["Bench manual", "============", ""]
    for number in range(sections):
        title = f"Section {number}"
        out += [title, "-" * len(title), "", sentence(), sentence(), "", sentence(), ""]
    return "\n".join(out).encode()


def pdf_document(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for _ in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 5, " ".join(sentence() for _ in range(20)))
    return bytes(pdf.output())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for key, value in bench_environment("postgres://unused@127.0.0.1:1/unused").items():
        os.environ.setdefault(key, value)
    import django

    django.setup()
    from sources.pipeline.chunking import chunk_text
    from sources.pipeline.extract import extract_by_kind

    files = [
        ("pptx", "deck.pptx", "60 slides (bullets, a table every 3rd, notes)", pptx_deck(60)),
        ("xlsx", "orders.xlsx", "20,000 rows × 6 columns", xlsx_workbook(20_000)),
        ("odt", "report.odt", "100 sections × 5 paragraphs", odt_document(100)),
        ("epub", "book.epub", "30 chapters × 12 paragraphs", epub_book(30)),
        ("rtf", "letter.rtf", "1,000 paragraphs", rtf_document(1_000)),
        ("json", "catalogue.json", "5,000 records", json_records(5_000)),
        ("code", "module.py", "5,000 lines of Python", code_file(5_000)),
        ("rst", "manual.rst", "300 sections", rst_document(300)),
        ("pdf", "report.pdf", "50 pages (for comparison)", pdf_document(50)),
    ]
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.runs} runs per file, median shown\n")
    print(
        f"{'kind':<5} {'file':<46} {'KB':>7} {'chars':>9} {'chunks':>6} {'extract s':>9} {'child CPU s':>11} "
        f"{'chunk s':>7}"
    )
    for kind, name, description, data in files:
        extract_times, chunk_times, cpu = [], [], []
        for _ in range(args.runs):
            cpu_before = children_cpu()
            started = time.perf_counter()
            extracted = extract_by_kind(kind, data, filename=name)
            extract_times.append(time.perf_counter() - started)
            cpu.append(children_cpu() - cpu_before)
            started = time.perf_counter()
            chunks = list(
                chunk_text(extracted.text, chunk_size=512, overlap=64, page_starts=extracted.page_starts, title=name)
            )
            chunk_times.append(time.perf_counter() - started)
        print(
            f"{kind:<5} {description:<46} {len(data) / 1024:7.0f} {len(extracted.text):9,d} {len(chunks):6d} "
            f"{statistics.median(extract_times):9.2f} {statistics.median(cpu):11.2f} "
            f"{statistics.median(chunk_times):7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
