"""What one file may cost to extract: zip archives unpacked under caps, and extraction in a child process
with a time and a memory limit.

Zip-based formats (DOCX today; XLSX, PPTX, ODT and EPUB are zips too) go through `unpack_zip` before any
parser sees them. It refuses, from the central directory alone, an archive whose declared sizes exceed
MAX_ARCHIVE_UNCOMPRESSED_BYTES or whose entries compress better than MAX_ARCHIVE_RATIO (a zip bomb); then
it decompresses every entry itself in small steps, counting real bytes (declared sizes can lie: `ZipFile.read`
inflates a whole member in one call before trimming it to the declared size), and hands the parser a stored
(uncompressed) copy, so the parser only ever reads bytes that were counted.

`run_isolated` runs an extractor in a child Python process with RLIMIT_AS set to EXTRACTION_MAX_MEMORY_MB
above what the child holds once its parser is imported, and kills it after EXTRACTION_TIMEOUT_SECONDS. PDF
and HTML parsers have their own amplifications (pypdf's compressed object streams, nested markup) that no
cap on the input catches, and C code (lxml) cannot be interrupted in-process. The child is a fresh
interpreter, not a fork: Celery's prefork workers are daemonic processes, which multiprocessing forbids to
have children, and forking a process that runs threads (the ingestion lease, gunicorn's threads) can
inherit a held lock. A fresh interpreter costs ~0.1-0.2 s a file (start, and importing one parser).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import subprocess
import sys
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger("minirag.ingest")

# More entries than any real office document has; each costs a central-directory record to parse.
MAX_ARCHIVE_ENTRIES = 10_000
# Entries smaller than this may compress any amount (tiny XML parts often do 50-200x); the total cap bounds
# what many of them add up to.
RATIO_GRACE_BYTES = 1 << 20
READ_STEP_BYTES = 1 << 16


class LimitExceeded(Exception):
    """A file broke an extraction limit; `str(error)` is safe to show to the person who added it."""


def out_of_memory(error: BaseException) -> bool:
    """True for a failed allocation: a MemoryError, or lxml's XMLSyntaxError carrying ERR_NO_MEMORY."""
    if isinstance(error, MemoryError):
        return True
    return any(getattr(entry, "type_name", "") == "ERR_NO_MEMORY" for entry in getattr(error, "error_log", ()) or ())


# --- zip archives -----------------------------------------------------------------------------------------


def _too_large(label: str, size: int, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"The {label} file unpacks to more than {limit:,} bytes ({size:,} or more); it is too large to index "
        "or is a zip bomb."
    )


def _check_directory(archive: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    """Refuse the archive from its central directory (declared sizes) before decompressing anything."""
    limit, max_ratio = settings.MAX_ARCHIVE_UNCOMPRESSED_BYTES, settings.MAX_ARCHIVE_RATIO
    entries = archive.infolist()
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise LimitExceeded(f"The {label} file holds more than {MAX_ARCHIVE_ENTRIES:,} parts; it cannot be indexed.")
    declared = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise LimitExceeded(f"The {label} file is password-protected; upload an unprotected copy.")
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Office formats use these two; bzip2 and lzma decompress without an output bound in zipfile.
            raise LimitExceeded(f"The {label} file uses an unsupported compression method; save it again.")
        declared += entry.file_size
        if declared > limit:
            raise _too_large(label, declared, limit)
        _check_ratio(label, entry.filename, entry.file_size, entry.compress_size, max_ratio)
    return entries


def _check_ratio(label: str, name: str, size: int, packed: int, max_ratio: float) -> None:
    if max_ratio and size > RATIO_GRACE_BYTES and size > max_ratio * max(packed, 1):
        raise LimitExceeded(
            f"The {label} file is compressed suspiciously well ({name} unpacks to {size // max(packed, 1):,} "
            f"times its packed size; the limit is {max_ratio:g}); it looks like a zip bomb and was not indexed."
        )


def unpack_zip(data: bytes | io.IOBase, *, label: str) -> io.BytesIO:
    """Check and unpack a zip under MAX_ARCHIVE_UNCOMPRESSED_BYTES and MAX_ARCHIVE_RATIO; return a stored copy.

    Raises LimitExceeded for a bomb, zipfile.BadZipFile (or OSError, EOFError) for a damaged archive.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    limit, max_ratio = settings.MAX_ARCHIVE_UNCOMPRESSED_BYTES, settings.MAX_ARCHIVE_RATIO
    output = io.BytesIO()
    total = 0
    with zipfile.ZipFile(stream) as archive, zipfile.ZipFile(output, "w", zipfile.ZIP_STORED) as copy:
        for entry in _check_directory(archive, label):
            if entry.is_dir():
                continue
            written = 0
            with archive.open(entry) as member, copy.open(entry.filename, "w") as target:
                # Small reads keep each inflate step bounded (zlib's max_length); the counts are of real bytes.
                while piece := member.read(READ_STEP_BYTES):
                    written += len(piece)
                    total += len(piece)
                    if total > limit:
                        raise _too_large(label, total, limit)
                    if written > entry.file_size:  # zipfile trims to the declared size; never trust that
                        raise LimitExceeded(f"The {label} file is damaged (a part is larger than it declares).")
                    _check_ratio(label, entry.filename, written, entry.compress_size, max_ratio)
                    target.write(piece)
    output.seek(0)
    return output


# --- the extraction child -----------------------------------------------------------------------------------

# The settings an extractor reads, handed to the child explicitly: the child does not load the project's
# settings module (nor read the environment); the values of the calling process (tests override them) win.
CHILD_SETTINGS = (
    "MAX_EXTRACTED_CHARS",
    "MAX_ARCHIVE_UNCOMPRESSED_BYTES",
    "MAX_ARCHIVE_RATIO",
    "EXTRACTION_TIMEOUT_SECONDS",  # PDF table detection takes at most a share of it (pdf_tables.PdfTables)
)
CHILD_COMMAND = "from sources.pipeline.bounded import child_main; child_main()"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _limit_memory(memory_mb: int) -> None:
    import resource

    try:
        ceiling = _address_space() + memory_mb * 1024 * 1024
    except OSError:  # no /proc: count the limit from zero
        ceiling = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))


def _limit_cpu(seconds: float) -> None:
    """The kernel stops the child after this much CPU time even if its parent is gone (a worker killed at
    its hard time limit cannot kill it): SIGXCPU one second past the wall-clock limit, SIGKILL later."""
    import math
    import resource

    soft = math.ceil(seconds) + 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 5 if hard == resource.RLIM_INFINITY else hard))


def child_main() -> None:
    """The child: read (target, args, imports, settings, limits) from stdin, write the outcome to stdout."""
    import importlib

    output = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library that prints must not corrupt the outcome
    target, args, imports, values, memory_mb, timeout = pickle.load(sys.stdin.buffer)  # noqa: S301 - our parent
    if timeout:
        _limit_cpu(timeout)
    from django.conf import settings as child_settings

    child_settings.configure(**values)
    for name in imports:  # before the limit: the parser's own code is not what the limit is for
        importlib.import_module(name)
    if memory_mb:
        _limit_memory(memory_mb)
    try:
        outcome = ("ok", target(*args))
    except LimitExceeded as error:
        outcome = ("limit", str(error))
    except Exception as error:  # noqa: BLE001 - raised again in the parent, with this traceback attached
        if out_of_memory(error):
            outcome = ("memory", None)
        else:
            error.add_note("Raised in the extraction child:\n" + traceback.format_exc())
            outcome = ("raised", error)
    try:
        payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        payload = pickle.dumps(("memory", None))
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its traceback goes instead
        payload = pickle.dumps(("crashed", traceback.format_exc()))
    output.write(payload)
    output.flush()


def _timeout_message(seconds: float) -> str:
    return f"Extracting the file took longer than {seconds:g} s and was stopped; split it into smaller files."


def _memory_message(memory_mb: int) -> str:
    if not memory_mb:
        return "Extracting the file ran out of memory and was stopped; split it into smaller files."
    return (
        f"Extracting the file needed more than {memory_mb:,} MB of memory and was stopped; split it into smaller files."
    )


def _child_environment() -> dict[str, str]:
    environment = dict(os.environ)
    paths = [str(PROJECT_ROOT), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def run_isolated(target: Callable, *args: Any, imports: tuple[str, ...] = ()) -> Any:
    """`target(*args)` in a child process under EXTRACTION_TIMEOUT_SECONDS and EXTRACTION_MAX_MEMORY_MB.

    `target` must be a module-level function (it is pickled by name), its arguments and result picklable;
    `imports` are modules the child loads before its memory limit starts. Exceptions `target` raises are
    raised here; a broken limit raises LimitExceeded. With both limits 0, runs in this process.
    """
    timeout = settings.EXTRACTION_TIMEOUT_SECONDS or None
    memory_mb = settings.EXTRACTION_MAX_MEMORY_MB
    if timeout is None and not memory_mb:
        return target(*args)
    values = {name: getattr(settings, name) for name in CHILD_SETTINGS}
    request = pickle.dumps((target, args, imports, values, memory_mb, timeout), protocol=pickle.HIGHEST_PROTOCOL)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_COMMAND],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_child_environment(),
        cwd=PROJECT_ROOT,
    )
    try:
        output, _ = child.communicate(request, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LimitExceeded(_timeout_message(timeout)) from None
    finally:  # also when the task's own time limit interrupts the wait
        if child.poll() is None:
            child.kill()
            child.wait()
    try:
        kind, value = pickle.loads(output)  # noqa: S301 - written by our own child
    except Exception:  # noqa: BLE001 - no outcome: killed by the kernel, or crashed in C code
        logger.warning("the extraction child ended with exit code %s and no outcome", child.returncode)
        if memory_mb:
            raise LimitExceeded(
                f"Extracting the file stopped unexpectedly (it may need more than {memory_mb:,} MB of memory); "
                "split it into smaller files or save it again."
            ) from None
        raise RuntimeError(f"the extraction child ended with exit code {child.returncode}") from None
    if kind == "ok":
        return value
    if kind == "memory":
        raise LimitExceeded(_memory_message(memory_mb))
    if kind == "limit":
        raise LimitExceeded(value)
    if kind == "raised":
        raise value
    logger.error("the extraction child could not send its outcome:\n%s", value)
    raise RuntimeError("extraction crashed in the child process")
