"""JSON (and JSON Lines) as Markdown whose headings are the keys, so every chunk carries its path.

- an object's scalar members become `key: value` lines; a member holding an object or a list becomes a heading
  (`## key`, `### key` below it …) over its contents — the chunk's section is then the key path
  ("file › users › [0] › address"), which the lexical index reads with the text;
- a list of flat objects (records) becomes a Markdown table with their keys as the header (the chunker repeats
  it in every chunk that continues the table); a list of scalars becomes `- value` lines;
- below the deepest heading level, a value is written as JSON on one line.

A file that is not JSON (JSON with comments, say) is indexed as plain text. It runs in the extraction child
(bounded.run_isolated): the parsed objects take many times the file's size in memory.
"""

import json

from sources.pipeline.plaintext import (
    Extracted,
    ExtractionError,
    check_size,
    decode_text,
    extract_text,
    markdown_table,
    normalize_text,
)

# Headings go from `##` (a top-level key) to `######`; deeper values are written as JSON.
_FIRST_LEVEL, _LAST_LEVEL = 2, 6
# A list of objects is a table when its objects are flat and share at most this many keys between them.
_TABLE_MAX_COLUMNS = 30


def _scalar(value) -> str:
    if isinstance(value, str):
        return " ".join(value.split()) if "\n" in value else value
    return json.dumps(value)  # numbers, true/false, null as JSON writes them


def _is_container(value) -> bool:
    return isinstance(value, dict | list)


def _label(key: str) -> str:
    return " ".join(str(key).split()) or '""'


class _Writer:
    """Markdown blocks for a parsed value; the length is checked against MAX_EXTRACTED_CHARS as it grows."""

    def __init__(self):
        self.blocks: list[str] = []
        self.length = 0

    def add(self, block: str) -> None:
        self.blocks.append(block)
        self.length += len(block) + 2
        check_size(self.length)

    def value(self, value, level: int, name: str) -> None:
        if isinstance(value, dict):
            self.members(value, level)
        elif isinstance(value, list):
            self.items(value, level, name)
        else:
            self.add(_scalar(value))

    def members(self, members: dict, level: int) -> None:
        lines = []
        for key, value in members.items():
            if not _is_container(value):
                lines.append(f"{_label(key)}: {_scalar(value)}")
                continue
            if lines:
                self.add("\n".join(lines))
                lines = []
            self.nested(_label(key), value, level)
        if lines:
            self.add("\n".join(lines))

    def items(self, items: list, level: int, name: str) -> None:
        if not any(_is_container(item) for item in items):
            if items:
                self.add("\n".join(f"- {_scalar(item)}" for item in items))
            return
        columns = _record_columns(items)
        if columns:
            rows = [[_scalar(item.get(column, "")) for column in columns] for item in items]
            self.add(markdown_table([columns, *rows]))
            return
        for position, item in enumerate(items):
            if _is_container(item):
                self.nested(f"{name}[{position}]", item, level)
            else:
                self.add(f"- {_scalar(item)}")

    def nested(self, name: str, value, level: int) -> None:
        if level > _LAST_LEVEL:
            self.add(f"{name}: {json.dumps(value, ensure_ascii=False, separators=(', ', ': '))}")
            return
        self.add(f"{'#' * level} {name}")
        self.value(value, level + 1, name)


def _record_columns(items: list) -> list[str] | None:
    """The header of a table for `items` when they are all flat objects, else None."""
    columns: dict[str, None] = {}
    for item in items:
        if not isinstance(item, dict) or any(_is_container(value) for value in item.values()):
            return None
        columns.update(dict.fromkeys(item))
        if len(columns) > _TABLE_MAX_COLUMNS:
            return None
    return list(columns) or None


def _json_lines(text: str) -> list | None:
    """The records of a JSON Lines file, or None when it is not one."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    try:
        return [json.loads(line) for line in lines]
    except ValueError:
        return None


def extract_json(data: bytes) -> Extracted:
    check_size(len(data) // 4)
    text = decode_text(data)
    try:
        value = json.loads(text)
    except RecursionError:
        raise ExtractionError("The JSON file is nested too deeply to index; flatten it or split it.") from None
    except ValueError:
        value = _json_lines(text)
        if value is None:
            return extract_text(data)  # not JSON after all (comments, trailing commas): its text is still useful
    writer = _Writer()
    try:
        writer.value(value, _FIRST_LEVEL, "")
    except RecursionError:
        raise ExtractionError("The JSON file is nested too deeply to index; flatten it or split it.") from None
    result = normalize_text("\n\n".join(writer.blocks))
    check_size(len(result))
    return Extracted(text=result)
