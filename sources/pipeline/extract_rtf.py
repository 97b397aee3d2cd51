"""RTF: its text through striprtf (pictures, fonts, styles and other destinations dropped; table cells
separated by `|`). RTF has no heading markup that survives as such, so it gives paragraphs only.

striprtf is imported inside the function: only the parsing child process (bounded.run_isolated) needs it; its
regular expressions run over the whole file, so the child's time limit is what bounds a hostile one.
"""

from sources.pipeline.bounded import out_of_memory
from sources.pipeline.plaintext import Extracted, ExtractionError, check_size, decode_text, normalize_text


def extract_rtf(data: bytes) -> Extracted:
    from striprtf.striprtf import rtf_to_text

    check_size(len(data) // 4)
    if not data.lstrip()[:5] == b"{\\rtf":
        raise ExtractionError("The file is not an RTF document (it does not start with {\\rtf); save it again as RTF.")
    # RTF is 7-bit text with escapes for other characters; decode_text also reads writers that put raw bytes.
    try:
        text = rtf_to_text(decode_text(data), errors="ignore")
    except Exception as error:  # noqa: BLE001 - striprtf raises assorted errors (ValueError, LookupError) on damage
        if out_of_memory(error):
            raise MemoryError from None
        raise ExtractionError(f"Could not read the RTF file (it may be damaged): {type(error).__name__}") from None
    text = normalize_text(text)
    check_size(len(text))
    return Extracted(text=text)
