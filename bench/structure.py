"""Structure-aware chunking and extraction, before and after, side by side in one process.

    .venv/bin/python bench/structure.py [--mb 20] [--pages 50] [--rounds 2] [--baseline e069ad1]

1. Chunking: a generated text of `--mb` MB (prose paragraphs, Markdown headings, a table every ~40
   paragraphs) chunked at 512/64 tokens by the chunker of `--baseline` (the commit before structure-aware
   chunking, loaded from git) and by the current one, alternately `--rounds` times. Prints CPU seconds, MB/s,
   the ratio, the chunk count and mean tokens a chunk, and how many chunks start mid-sentence or cut a table
   row.
2. PDF extraction: generated (fpdf2) PDFs of `--pages` pages — one with a ruled table on every page, one text
   only — extracted in this process by the baseline's extract_pdf (pypdf text) and the current one (pypdf
   text, pdfplumber on pages that draw lines, headings from font sizes). Prints CPU seconds (best of 3).
"""

import argparse
import importlib.util
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = (
    "harbour storm lighthouse signal fisherman festival season chart bakery bread river valley mountain "
    "engine turbine voltage circuit protocol packet latency server archive ledger invoice contract clause "
    "tenant policy retention backup schedule migration schema index vector embedding retrieval citation"
).split()
SENTENCE_BOUNDARY = re.compile(r"\n\s*|[.!?…。！？][\"'”’)\]]*\s+")


def _settings() -> None:
    from django.conf import settings

    settings.configure(
        MAX_EXTRACTED_CHARS=10**9,
        MAX_ARCHIVE_UNCOMPRESSED_BYTES=10**9,
        MAX_ARCHIVE_RATIO=1000,
        EXTRACTION_TIMEOUT_SECONDS=0,
        EXTRACTION_MAX_MEMORY_MB=0,
    )


def _baseline(revision: str, path: str, name: str, folder: Path):
    git = shutil.which("git") or "git"
    source = subprocess.run([git, "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, check=True).stdout
    target = folder / f"{name}.py"
    target.write_bytes(source)
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(megabytes: float, seed: int = 7) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    length = paragraphs = 0
    while length < megabytes * 1_000_000:
        if paragraphs % 25 == 0:
            parts.append(f"{'#' * rng.randint(1, 3)} {' '.join(rng.choices(WORDS, k=3)).title()}\n\n")
        if paragraphs % 40 == 7:
            rows = "".join(
                f"| {rng.choice(WORDS)} | {rng.randint(1, 9999)} | {rng.choice(WORDS)} |\n" for _ in range(30)
            )
            parts.append(f"| Name | Value | Owner |\n|---|---|---|\n{rows}\n")
        sentences = [
            " ".join(rng.choices(WORDS, k=rng.randint(6, 22))).capitalize() + rng.choice([".", ".", ".", "?", ";"])
            for _ in range(rng.randint(2, 8))
        ]
        parts.append(" ".join(sentences) + "\n\n")
        length = sum(len(part) for part in parts) if paragraphs % 1000 == 0 else length + len(parts[-1])
        paragraphs += 1
    return "".join(parts)


def _quality(text: str, chunks: list) -> tuple[int, int]:
    """(chunks starting mid-sentence, chunk boundaries inside a table row)."""
    starts = {0, *(match.end() for match in SENTENCE_BOUNDARY.finditer(text))}
    mid_sentence = sum(1 for chunk in chunks[1:] if chunk.start not in starts)
    inside_row = 0
    for chunk in chunks[1:]:
        for boundary in (chunk.start, chunk.end):
            if boundary >= len(text):
                continue
            line_start = text.rfind("\n", 0, boundary) + 1
            if text.startswith("|", line_start) and text[line_start:boundary].strip():
                inside_row += 1
    return mid_sentence, inside_row


def bench_chunking(megabytes: float, rounds: int, old, new) -> None:
    text = _text(megabytes)
    size_mb = len(text.encode()) / 1e6
    print(f"chunking {size_mb:.1f} MB (chunk 512 / overlap 64 tokens), {rounds} alternating rounds")
    old.count_tokens("warm up")  # the encoding loads once, outside the timings
    timings: dict[str, list[float]] = {"before": [], "after": []}
    results = {}
    for _ in range(rounds):
        for label, module in (("before", old), ("after", new)):
            started_cpu, started = time.process_time(), time.perf_counter()
            chunks = list(module.chunk_text(text, chunk_size=512, overlap=64))
            timings[label].append(time.process_time() - started_cpu)
            results[label] = (chunks, time.perf_counter() - started)
    for label in ("before", "after"):
        chunks, _wall = results[label]
        cpu = statistics.median(timings[label])
        mid_sentence, inside_row = _quality(text, chunks)
        mean_tokens = statistics.mean(chunk.token_count for chunk in chunks)
        print(
            f"  {label:6}  cpu {cpu:6.2f} s  {size_mb / cpu:5.2f} MB/s  chunks {len(chunks):6}  "
            f"mean tokens {mean_tokens:5.1f}  mid-sentence starts {mid_sentence:5}  cuts inside a row {inside_row:4}"
        )
    ratio = statistics.median(timings["after"]) / statistics.median(timings["before"])
    print(f"  after/before CPU time: {ratio:.2f}x")


def _pdf(pages: int, tables: bool, seed: int = 3) -> bytes:
    from fpdf import FPDF

    rng = random.Random(seed)
    pdf = FPDF()
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 10, f"Chapter {number} {rng.choice(WORDS).title()}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for _ in range(3 if tables else 6):
            sentence = " ".join(rng.choices(WORDS, k=60)).capitalize() + "."
            pdf.multi_cell(0, 6, sentence, new_x="LMARGIN", new_y="NEXT")
        if tables:
            pdf.set_font("Helvetica", size=10)
            with pdf.table() as table:
                for row_number in range(9):
                    row = table.row()
                    cells = ("Region", "Sales", "Owner", "Extension") if row_number == 0 else (
                        rng.choice(["North", "South", "East", "West"]), str(rng.randint(10, 999)),
                        rng.choice(WORDS).title(), str(rng.randint(4000, 4999)),
                    )  # fmt: skip
                    for cell in cells:
                        row.cell(cell)
    return bytes(pdf.output())


def bench_pdf(pages: int, old, new) -> None:
    print(f"PDF extraction, {pages} pages, in process (best of 3 CPU seconds)")
    for tables in (True, False):
        data = _pdf(pages, tables)
        line = f"  {'a ruled table on every page' if tables else 'text only':28}"
        timings = {}
        for label, module in (("before", old), ("after", new)):
            best = None
            for _ in range(3):
                started = time.process_time()
                extracted = module.extract_pdf(data)
                spent = time.process_time() - started
                best = spent if best is None else min(best, spent)
            timings[label] = best
            rows = extracted.text.count("\n| ")
            headings = len(re.findall(r"^#{1,6} ", extracted.text, re.MULTILINE))
            line += f"  {label} {best:5.2f} s ({rows} table rows, {headings} headings)"
        print(line + f"  after/before {timings['after'] / timings['before']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default="e069ad1", help="the commit to compare with (before structure)")
    args = parser.parse_args()
    _settings()
    from sources.pipeline import chunking, extract

    with tempfile.TemporaryDirectory(prefix="minirag-bench-structure-") as folder:
        old_chunking = _baseline(args.baseline, "sources/pipeline/chunking.py", "baseline_chunking", Path(folder))
        old_extract = _baseline(args.baseline, "sources/pipeline/extract.py", "baseline_extract", Path(folder))
        bench_pdf(args.pages, old_extract, extract)
        bench_chunking(args.mb, args.rounds, old_chunking, chunking)


if __name__ == "__main__":
    main()
