"""Source code, configuration and reStructuredText: text files whose layout or markup the prose path would spoil.

Code and configuration files are kept verbatim (indentation included) inside one Markdown code fence named
for the language: `# comment` lines of Python, shell, YAML, TOML or INI are then not taken for headings by the
chunker (structure.py ignores headings inside fences), and the source's name (the file name, or its relative
path for `manage.py ingest`) is the title of every chunk. reStructuredText's section titles (a line with a
punctuation underline, optionally an overline) become Markdown headings, so its chunks get sections.
Both are linear and run in the calling process, like plain text.
"""

import re
import unicodedata

from sources.pipeline.plaintext import Extracted, check_size, decode_text, normalize_text

# Extension → the fence's language name. Files without an extension (Makefile, Dockerfile) are not accepted:
# uploads and `manage.py ingest` pick the extractor by extension.
CODE_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "jsx", ".ts": "typescript", ".tsx": "tsx", ".go": "go", ".java": "java", ".kt": "kotlin",
    ".kts": "kotlin", ".scala": "scala", ".groovy": "groovy", ".gradle": "groovy", ".rs": "rust", ".c": "c",
    ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp",
    ".swift": "swift", ".rb": "ruby", ".php": "php", ".pl": "perl", ".pm": "perl", ".lua": "lua", ".r": "r",
    ".dart": "dart", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell", ".clj": "clojure",
    ".sh": "bash", ".bash": "bash", ".zsh": "zsh", ".ps1": "powershell", ".bat": "batch", ".sql": "sql",
    ".css": "css", ".scss": "scss", ".vue": "vue", ".svelte": "svelte", ".graphql": "graphql",
    ".proto": "protobuf", ".tf": "hcl", ".cmake": "cmake", ".tex": "latex",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini", ".conf": "",
    ".properties": "properties", ".xml": "xml",
}  # fmt: skip

# Control characters go (tab and newline stay); a code file's spaces are its indentation and stay as they are.
_CONTROLS = {code: None for code in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0x200B, 0xFEFF)}
_TRAILING_BLANKS = re.compile(r"[ \t]+(?=\n)")
_MANY_BLANK_LINES = re.compile(r"\n{4,}")
_BACKTICK_RUN = re.compile(r"`{3,}")


def fenced(text: str, info: str = "") -> str:
    """`text` in a backtick fence longer than any backtick run inside it, so nothing in it closes the fence."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def extract_code(data: bytes, *, language: str = "") -> Extracted:
    check_size(len(data) // 4)
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text).translate(_CONTROLS)
    text = _MANY_BLANK_LINES.sub("\n\n\n", _TRAILING_BLANKS.sub("", text)).strip("\n")
    if not text.strip():
        return Extracted(text="")
    text = fenced(text, language)
    check_size(len(text))
    return Extracted(text=text)


# --- reStructuredText --------------------------------------------------------------------------------------

# A section adornment: one punctuation character repeated (at least twice), from the first column.
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+[ \t]*")


def _adornment(line: str) -> str | None:
    return line[0] if _ADORNMENT.fullmatch(line) else None


def _is_title_text(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and _adornment(line) is None


def _title_at(lines: list[str], index: int, after_title: bool) -> tuple[str, tuple[str, bool], int] | None:
    """(title, adornment style, lines it takes) when a section title starts at `index`, else None."""
    if index > 0 and lines[index - 1].strip() and not after_title:
        return None  # a title follows a blank line, another title, or starts the text
    line = lines[index]
    following = lines[index + 1] if index + 1 < len(lines) else ""
    over = _adornment(line)
    if over:  # an overline: the title (possibly inset) and the same underline follow
        title = following.strip()
        if _is_title_text(title) and index + 2 < len(lines) and _adornment(lines[index + 2]) == over:
            return title, (over, True), 3
        return None
    under = _adornment(following) if following else None
    if under and _is_title_text(line) and len(following.rstrip()) >= len(line.rstrip()):
        return line.strip(), (under, False), 2
    return None


def rst_headings(text: str) -> str:
    """Section titles as Markdown headings. As in reStructuredText, a title's level is the order in which its
    adornment style (the character, and whether it has an overline) first appears; levels past 6 stay 6."""
    lines = text.split("\n")
    styles: dict[tuple[str, bool], int] = {}
    output: list[str] = []
    index, after_title = 0, False
    while index < len(lines):
        found = _title_at(lines, index, after_title)
        after_title = found is not None
        if found is None:
            output.append(lines[index])
            index += 1
            continue
        title, style, taken = found
        level = styles.setdefault(style, len(styles) + 1)
        output.append(f"{'#' * min(level, 6)} {title}")
        index += taken
    return "\n".join(output)


def extract_rst(data: bytes) -> Extracted:
    check_size(len(data) // 4)
    text = normalize_text(rst_headings(decode_text(data).replace("\r\n", "\n")))
    check_size(len(text))
    return Extracted(text=text)
