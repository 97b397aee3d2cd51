"""What one file may cost to extract: zip bombs refused before parsing, and PDF/DOCX/HTML parsed in a child
process that is stopped at a time and a memory limit. The bombs are real files crafted here."""

import functools
import io
import struct
import time
import zipfile
import zlib

import pytest
from django.test import override_settings

from sources.models import SourceStatus, SourceType
from sources.pipeline.bounded import unpack_zip
from sources.pipeline.extract import ExtractionError, extract_by_kind
from sources.tests.factories import SourceFactory

PARAGRAPH = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>"


def _docx(paragraphs: int = 0, text: str = "Hummingbirds can fly backwards.") -> bytes:
    """A real DOCX; with `paragraphs`, its body also repeats one paragraph that many times (deflate packs
    ~340 of them into a kilobyte: small on disk, huge once unpacked)."""
    import docx

    document = docx.Document()
    document.add_heading("Birds", level=1)
    document.add_paragraph(text)
    plain = io.BytesIO()
    document.save(plain)
    if not paragraphs:
        return plain.getvalue()
    source = zipfile.ZipFile(plain)
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "word/document.xml":
                data = data.replace(b"</w:body>", PARAGRAPH * paragraphs + b"</w:body>")
            bomb.writestr(entry.filename, data)
    return output.getvalue()


@functools.cache
def _docx_bomb() -> bytes:
    """~100 KB on disk; its document.xml unpacks to 22 MB (600,000 paragraphs)."""
    return _docx(paragraphs=600_000)


def _with_declared_size(archive: bytes, member: str, size: int) -> bytes:
    """Rewrite what the zip says `member` unpacks to (central directory and local header), not its data."""
    data = bytearray(archive)
    name = member.encode()
    for signature, name_offset, size_offset in ((b"PK\x01\x02", 46, 24), (b"PK\x03\x04", 30, 22)):
        position = data.find(signature)
        while position != -1:
            name_length = struct.unpack_from("<H", data, position + (28 if signature == b"PK\x01\x02" else 26))[0]
            if data[position + name_offset : position + name_offset + name_length] == name:
                struct.pack_into("<I", data, position + size_offset, size)
            position = data.find(signature, position + 4)
    return bytes(data)


def _pdf_with_content(content: bytes) -> bytes:
    """A one-page PDF whose page content is `content`, deflated (pypdf inflates and interprets it)."""
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


# A million text operators: ~37 MB of page content in a ~100 KB PDF; pypdf needs ~30 s of CPU to read it.
PDF_BOMB_CONTENT = b"BT /F1 12 Tf 72 712 Td (bomb) Tj ET\n" * 1_000_000


def test_normal_docx_is_extracted_in_the_child_with_headings():
    extracted = extract_by_kind("docx", _docx())

    assert extracted.text == "# Birds\n\nHummingbirds can fly backwards."


def test_docx_zip_bomb_upload_ends_in_error_fast(in_tenant, run_on_commit):
    # Given a 100 KB DOCX whose document.xml unpacks to 22 MB (before: ~8 minutes of CPU, +360 MB)
    from django.core.files.base import ContentFile

    from sources import services

    bomb = _docx_bomb()
    assert len(bomb) < 120_000
    source = SourceFactory(source_type=SourceType.UPLOAD, content="", name="bomb.docx")
    source.file.save("bomb.docx", ContentFile(bomb), save=True)

    # When it is ingested
    started = time.monotonic()
    run_on_commit(services.source_ingest, source=source)

    # Then the source fails with a message naming the problem, within a couple of seconds
    source.refresh_from_db()
    assert time.monotonic() - started < 5
    assert source.status == SourceStatus.ERROR
    assert "compressed suspiciously well" in source.error_message
    assert "word/document.xml" in source.error_message and "zip bomb" in source.error_message


def test_docx_declaring_a_huge_size_is_refused_before_unpacking():
    archive = _with_declared_size(_docx(), "word/document.xml", 4_000_000_000)

    with pytest.raises(ExtractionError, match=r"unpacks to more than 104,857,600 bytes"):
        extract_by_kind("docx", archive)


@override_settings(EXTRACTION_MAX_MEMORY_MB=15)
def test_docx_lying_about_its_size_is_never_inflated_past_the_lie():
    # Given a DOCX that declares 5 KB for a document.xml that really inflates to 22 MB (a ratio check on
    # the declared sizes passes; python-docx's own ZipFile.read inflates all 22 MB in one call, which breaks
    # a 15 MB memory limit)
    archive = _with_declared_size(_docx_bomb(), "word/document.xml", 5_000)

    # Then unpacking inflates in small steps, stops at the declared size, finds the data does not match, and
    # calls the file damaged
    with pytest.raises(ExtractionError, match=r"Could not read the DOCX file \(it may be damaged\): BadZipFile"):
        extract_by_kind("docx", archive)


@override_settings(MAX_ARCHIVE_UNCOMPRESSED_BYTES=1_500_000, MAX_ARCHIVE_RATIO=0)
def test_archive_total_size_cap_applies_to_real_bytes():
    archive = _docx(paragraphs=30_000)  # 0.8 MB of template parts + 1.1 MB of paragraphs

    with pytest.raises(ExtractionError, match=r"unpacks to more than 1,500,000 bytes"):
        extract_by_kind("docx", archive)
    with override_settings(MAX_ARCHIVE_UNCOMPRESSED_BYTES=3_000_000):
        assert extract_by_kind("docx", archive).text.count("bomb") == 30_000


def test_unpacked_copy_is_stored_and_complete():
    copy = zipfile.ZipFile(unpack_zip(_docx(), label="DOCX"))

    assert {entry.compress_type for entry in copy.infolist()} == {zipfile.ZIP_STORED}
    assert b"Hummingbirds" in copy.read("word/document.xml")


def test_compression_methods_other_than_deflate_are_refused():
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("word/document.xml", b"<xml/>")

    with pytest.raises(ExtractionError, match="unsupported compression method"):
        extract_by_kind("docx", output.getvalue())


@override_settings(MAX_ARCHIVE_RATIO=0, EXTRACTION_MAX_MEMORY_MB=100)
def test_docx_within_the_archive_caps_is_still_stopped_at_the_memory_limit():
    # With the ratio check off, the 22 MB of XML reach the parser, whose tree needs ~300 MB
    with pytest.raises(ExtractionError, match=r"needed more than 100 MB of memory"):
        extract_by_kind("docx", _docx_bomb())


@override_settings(EXTRACTION_TIMEOUT_SECONDS=1.0)
def test_pdf_that_takes_too_long_is_stopped_at_the_time_limit():
    bomb = _pdf_with_content(PDF_BOMB_CONTENT)
    assert len(bomb) < 150_000

    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"took longer than 1 s and was stopped"):
        extract_by_kind("pdf", bomb)
    assert time.monotonic() - started < 4


@override_settings(EXTRACTION_MAX_MEMORY_MB=20)
def test_pdf_that_needs_too_much_memory_is_stopped_at_the_memory_limit():
    with pytest.raises(ExtractionError, match=r"needed more than 20 MB of memory"):
        extract_by_kind("pdf", _pdf_with_content(PDF_BOMB_CONTENT))


def test_limits_reach_the_ingestion_as_a_source_error(in_tenant, run_on_commit, settings):
    from django.core.files.base import ContentFile

    from sources import services

    settings.EXTRACTION_TIMEOUT_SECONDS = 1.0
    source = SourceFactory(source_type=SourceType.UPLOAD, content="", name="slow.pdf")
    source.file.save("slow.pdf", ContentFile(_pdf_with_content(PDF_BOMB_CONTENT)), save=True)

    run_on_commit(services.source_ingest, source=source)

    source.refresh_from_db()
    assert source.status == SourceStatus.ERROR
    assert source.error_message.startswith("Extracting the file took longer than 1 s")


def test_an_abandoned_child_stops_by_itself(settings):
    # Given a child started as run_isolated starts it, whose parent never waits for it (a worker killed at its
    # hard time limit cannot kill its child)
    import pickle
    import signal
    import subprocess
    import sys

    from sources.pipeline import bounded
    from sources.pipeline.extract import _parse

    values = {name: getattr(settings, name) for name in bounded.CHILD_SETTINGS}
    request = pickle.dumps((_parse, ("pdf", _pdf_with_content(PDF_BOMB_CONTENT)), ("pypdf",), values, 0, 1.0))
    child = subprocess.Popen(
        [sys.executable, "-c", bounded.CHILD_COMMAND],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=bounded._child_environment(),
        cwd=bounded.PROJECT_ROOT,
    )
    child.stdin.write(request)
    child.stdin.close()

    # Then the kernel stops it soon after its time limit (CPU seconds), instead of it parsing for minutes
    assert child.wait(timeout=15) == -signal.SIGXCPU
