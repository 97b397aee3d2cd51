"""What the zip-based formats (PPTX, XLSX, ODT, EPUB) share: the archive checked and unpacked before any parser
sees it (bounded.unpack_zip), one way to turn a parser's failure into a message for the person who added the
file, and a hardened XML parser for the parts read here directly (ODT, EPUB).
"""

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

from sources.pipeline.bounded import LimitExceeded, out_of_memory, unpack_zip
from sources.pipeline.plaintext import ExtractionError


@contextmanager
def reading(label: str) -> Iterator[None]:
    """Inside: a parser's own errors (damaged zip, XML or parts) become ExtractionError naming the format; a
    broken archive limit keeps its message; a failed allocation stays a MemoryError (the child's memory limit)."""
    try:
        yield
    except (ExtractionError, MemoryError):
        raise
    except LimitExceeded as error:
        raise ExtractionError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - parsers raise assorted zip/xml/key/value errors for damaged files
        if out_of_memory(error):
            raise MemoryError from None
        raise ExtractionError(f"Could not read the {label} file (it may be damaged): {type(error).__name__}") from None


def open_archive(data: bytes | io.IOBase, label: str) -> zipfile.ZipFile:
    """The checked, unpacked (stored) copy of the archive, to read parts from."""
    return zipfile.ZipFile(unpack_zip(data, label=label))


def parse_xml(data: bytes):
    """An XML part as an lxml element: no DTD, no entity expansion, no network, libxml2's size and depth limits."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    return etree.fromstring(data, parser=parser)
