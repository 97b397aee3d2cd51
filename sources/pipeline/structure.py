"""The Markdown structure the chunker respects, found in one linear scan each: the tables of a text (never
cut between a header row and its separator row; their header repeated in a chunk that continues one) and the
heading path ("title › heading › subheading") in force at an offset.
"""

import bisect
import re

from minirag.tokenizer import count_tokens

# A Markdown table: header row, separator row (group "head" ends after it), then its rows.
_TABLE = re.compile(
    r"(?P<head>^[ \t]*\|[^\n]*\n[ \t]*\|[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*(?:\n|\Z))"
    r"(?:[ \t]*\|[^\n]*(?:\n|\Z))*",
    re.MULTILINE,
)
# An ATX heading line, or a code fence (headings inside fenced code are not headings).
_HEADING_OR_FENCE = re.compile(r"^(?:(#{1,6})[ \t]+([^\n]*)|[ \t]{0,3}(`{3,}|~{3,})[^\n]*)$", re.MULTILINE)
_CLOSING_HASHES = re.compile(r"[ \t]+#+[ \t]*$")
SECTION_SEPARATOR = " › "
SECTION_MAX_CHARS = 500
_HEADING_MAX_CHARS = 200


class MarkdownTables:
    """The Markdown tables of a text, found once: where each starts, where its header block (header and
    separator rows) ends, and where its last row ends."""

    def __init__(self, text: str, chunk_size: int):
        self.text = text
        self.starts: list[int] = []
        self.header_ends: list[int] = []
        self.ends: list[int] = []
        self._header_tokens: dict[int, int] = {}
        self.max_header_tokens = chunk_size // 2
        if "|" not in text:
            return
        for match in _TABLE.finditer(text):
            end = match.end()
            if end > match.start() and text[end - 1] == "\n":
                end -= 1
            self.starts.append(match.start())
            self.header_ends.append(match.end("head"))
            self.ends.append(end)

    def __bool__(self) -> bool:
        return bool(self.starts)

    def _index(self, position: int) -> int | None:
        """The table that `position` lies strictly inside (after its first character, up to its end)."""
        index = bisect.bisect_left(self.starts, position) - 1
        if index >= 0 and position <= self.ends[index]:
            return index
        return None

    def in_header_block(self, position: int) -> bool:
        index = self._index(position)
        return index is not None and position < self.header_ends[index]

    def at_row_start(self, position: int) -> bool:
        """False for a position inside a table row or inside a header block; True anywhere else."""
        index = self._index(position)
        if index is None:
            return True
        if position < self.header_ends[index]:
            return False
        line_start = max(self.starts[index], self.text.rfind("\n", self.starts[index], position) + 1)
        return not self.text[line_start:position].strip()

    def header_at(self, position: int) -> tuple[str, int]:
        """(header and separator rows, their tokens) when `position` is in a table's rows, else ("", 0)."""
        index = self._index(position)
        if index is None or position < self.header_ends[index]:
            return "", 0
        header = self.text[self.starts[index] : self.header_ends[index]]
        if not header.endswith("\n"):
            header += "\n"
        tokens = self._header_tokens.get(index)
        if tokens is None:
            tokens = self._header_tokens[index] = count_tokens(header)
        if tokens > self.max_header_tokens:
            return "", 0
        return header, tokens


class SectionPath:
    """The heading path in force at increasing offsets, from one lazy pass over the text's headings."""

    def __init__(self, text: str, title: str):
        self._matches = _HEADING_OR_FENCE.finditer(text)
        self._pending: re.Match | None = next(self._matches, None)
        self._stack: list[tuple[int, str]] = []
        self._in_fence: str | None = None
        opening = _HEADING_OR_FENCE.match(text)
        if opening is not None and opening.group(1) == "#":
            title = _heading_text(opening.group(2)) or title
            self._pending = next(self._matches, None)  # the title is not repeated in the path
        self.title = " ".join(title.split())[:_HEADING_MAX_CHARS]

    def at(self, position: int) -> str:
        """The section at `position`. Reads forward only: a position before an earlier one gets the section
        of that earlier one (chunks start in order; an overlap may reach back into a heading line)."""
        while self._pending is not None and self._pending.start() <= position:
            match = self._pending
            self._pending = next(self._matches, None)
            if match.group(3):  # a fence opens, or closes the one that is open
                fence = match.group(3)
                if self._in_fence is None:
                    self._in_fence = fence
                elif fence[0] == self._in_fence[0] and len(fence) >= len(self._in_fence):
                    self._in_fence = None
                continue
            if self._in_fence is not None:
                continue
            level, heading = len(match.group(1)), _heading_text(match.group(2))
            if not heading:
                continue
            while self._stack and self._stack[-1][0] >= level:
                self._stack.pop()
            self._stack.append((level, heading))
        return _join_section(self.title, [heading for _, heading in self._stack])


def _join_section(title: str, headings: list[str]) -> str:
    section = SECTION_SEPARATOR.join([title, *headings] if title else headings)
    if len(section) > SECTION_MAX_CHARS:
        section = section[: SECTION_MAX_CHARS - 1] + "…"
    return section


def _heading_text(raw: str) -> str:
    return " ".join(_CLOSING_HASHES.sub("", raw).split())[:_HEADING_MAX_CHARS]


def section_at(section: str, text: str, offset: int) -> str:
    """The section at `offset` in a chunk's `text`, given the chunk's own `section` (where its text starts):
    the headings inside the text before `offset` continue the path — for a citation label naming the heading a
    quoted sentence sits under, when one chunk spans several sections.

    The stored path does not say its headings' levels. A heading of the path that the text itself opens with
    gets its level from there; the others are taken as ancestors of any heading found in the text."""
    title, *names = section.split(SECTION_SEPARATOR) if section else [""]
    path: list[tuple[int | None, str]] = [(None, name) for name in names]
    fence: str | None = None
    for match in _HEADING_OR_FENCE.finditer(text, 0, max(0, offset)):
        if match.group(3):
            if fence is None:
                fence = match.group(3)
            elif match.group(3)[0] == fence[0] and len(match.group(3)) >= len(fence):
                fence = None
            continue
        heading = _heading_text(match.group(2))
        if fence is not None or not heading:
            continue
        level = len(match.group(1))
        if level == 1 and heading == title and not any(known is not None for known, _ in path):
            continue  # the document's title, opening the text
        known = next((index for index, (_, name) in enumerate(path) if name == heading), None)
        if known is not None and all(level_ is None for level_, _ in path[known:]):
            path = [*path[:known], (level, heading)]  # the same heading the path names: now its level is known
            continue
        while path and path[-1][0] is not None and path[-1][0] >= level:
            path.pop()
        path.append((level, heading))
    return _join_section(title, [name for _, name in path])
