"""Zero-key answers (bot model `extractive`): the best sentences of the retrieved passages, each cited.

The question and every sentence go through the same analyzer the index uses (stemming, stop words, folding),
so "laptops" in a passage meets "laptop" in a question. A sentence's score is the share of the question's
terms it covers (rare-looking terms — names, numbers — weigh more; the passage's heading path counts at half
weight). The answer quotes the best sentence and the next ones that add something, pulls in a neighbour
when a sentence cannot stand alone ("It…", "This…", a short fragment, a lead-in ending in ":"), and cites each
quote `[n]` with the quoted text itself as the source's snippet. When no sentence covers enough of the
question, the bot says it does not know instead of guessing.

Units are sentences of prose, list items and Markdown table rows (quoted as "Header: value; …").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

MAX_PASSAGES = 5
MAX_QUOTES = 3
MAX_QUOTE_CHARS = 600
# The best sentence must cover this share of the question's (weighted) terms, or the bot does not know —
# capped for long questions: a sentence matching MIN_MATCHED_WEIGHT of a twelve-word question's terms is on topic.
MIN_COVERAGE = 0.5
MIN_MATCHED_WEIGHT = 3.0
# Further quotes must score at least this share of the best one (or cover a term nothing quoted covers yet).
RELATIVE_QUOTE_FLOOR = 0.6
SECTION_WEIGHT = 0.5
ENTITY_WEIGHT = 1.5
SHORT_UNIT_WORDS = 6
DUPLICATE_OVERLAP = 0.8

_ANAPHORA = frozenset(
    "it its this that these those they them their he she his her such also however therefore then there".split()
)
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "prof.", "inc.", "ltd.", "no.", "fig.")
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]]*)(?=\s+|$)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_WORD = re.compile(r"\w+", re.UNICODE)

Analyzer = Callable[[str], list[str]]


@dataclass
class Unit:
    """One quotable piece of a passage: a sentence, a list item or a table row."""

    passage: int  # position of its passage in the retrieved list
    position: int  # position within the passage
    text: str  # as quoted (table rows rendered "Header: value; …")
    kind: str  # "sentence", "item", "row"
    paragraph: int
    terms: frozenset[str] = frozenset()
    score: float = 0.0


@dataclass
class Quote:
    chunk: Any
    text: str
    score: float


@dataclass
class Composition:
    """The composed reply: `quotes[n-1]` is what `[n]` cites. No quotes = the knowledge base does not know."""

    text: str
    quotes: list[Quote] = field(default_factory=list)

    @property
    def no_answer(self) -> bool:
        return not self.quotes


# --- splitting ----------------------------------------------------------------------------------------------


def _split_sentences(paragraph: str) -> list[str]:
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        end = match.end()
        candidate = paragraph[start:end]
        last_word = candidate.rsplit(None, 1)[-1].lower() if candidate.strip() else ""
        if last_word in _ABBREVIATIONS or re.search(r"\b[A-Z]\.$", candidate):  # "e.g.", initials
            continue
        if re.search(r"\d\.$", candidate) and end < len(paragraph) and paragraph[end : end + 1].isdigit():
            continue  # a decimal number
        sentences.append(candidate.strip())
        start = end
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return [sentence for sentence in sentences if sentence]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def split_units(content: str, passage: int = 0) -> list[Unit]:
    """The quotable units of a passage, in order. Headings are context, not answers, so they are skipped."""
    units: list[Unit] = []
    header: list[str] | None = None
    paragraph = 0
    lines = content.split("\n")
    buffer: list[str] = []

    def flush() -> None:
        nonlocal paragraph
        if buffer:
            for sentence in _split_sentences(" ".join(buffer)):
                units.append(Unit(passage, len(units), sentence, "sentence", paragraph))
            buffer.clear()
            paragraph += 1

    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            flush()
            header = None
            continue
        if stripped.startswith("|") and stripped.count("|") >= 2:
            flush()
            if _TABLE_SEPARATOR.match(stripped):
                continue
            cells = _cells(stripped)
            next_line = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if header is None and _TABLE_SEPARATOR.match(next_line):
                header = cells  # the header row labels the rows below it
                continue
            if header and len(header) == len(cells):
                text = "; ".join(
                    f"{name}: {value}" if name else value for name, value in zip(header, cells, strict=False) if value
                )
            else:
                text = " | ".join(cell for cell in cells if cell)
            if text:
                units.append(Unit(passage, len(units), text, "row", paragraph))
            continue
        header = None
        if _HEADING.match(stripped):
            flush()
            continue
        if _LIST_ITEM.match(stripped):
            flush()
            item = _LIST_ITEM.sub("", stripped, count=1)
            if item:
                units.append(Unit(passage, len(units), item, "item", paragraph))
            continue
        buffer.append(stripped)
    flush()
    return units


# --- scoring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionTerms:
    """The question's analysed terms with their weights (history terms, for follow-ups, weigh less)."""

    weights: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def coverage(self, terms: frozenset[str], section_terms: frozenset[str] = frozenset()) -> float:
        if not self.weights:
            return 0.0
        covered = 0.0
        for term, weight in self.weights.items():
            if term in terms:
                covered += weight
            elif term in section_terms:
                covered += weight * SECTION_WEIGHT
        return covered / self.total


def question_terms(
    question: str, analyze: Analyzer, *, context: str = "", context_weight: float = 0.5
) -> QuestionTerms:
    """Weights for the question's terms: 1, or ENTITY_WEIGHT for words written like names or numbers.
    `context` (recent turns, for a follow-up) adds its terms at `context_weight`."""
    weights: dict[str, float] = {}
    words = _WORD.findall(question)
    for position, word in enumerate(words):
        for term in analyze(word):
            entity = any(ch.isdigit() for ch in word) or (position > 0 and word[:1].isupper()) or word.isupper()
            weights[term] = max(weights.get(term, 0.0), ENTITY_WEIGHT if entity and len(word) > 1 else 1.0)
    for term in analyze(context) if context else ():
        weights.setdefault(term, context_weight)
    return QuestionTerms(weights)


def passage_coverage(chunk: Any, question: QuestionTerms, analyze: Analyzer) -> float:
    """The share of the question a whole passage covers (its heading path at half weight)."""
    return question.coverage(frozenset(analyze(chunk.content or "")), frozenset(analyze(_section(chunk))))


def _section(chunk: Any) -> str:
    return getattr(chunk, "section", "") or ""


def _starts_dependent(unit: Unit) -> bool:
    first = _WORD.findall(unit.text[:40].lower())
    return bool(first) and first[0] in _ANAPHORA


def _with_neighbours(units: Sequence[Unit], chosen: Unit) -> set[int]:
    """The unit's position, plus the neighbours it needs to make sense: the sentence before a dependent or
    very short one, the items or rows after a lead-in ending in ':'."""
    positions = {chosen.position}
    before = units[chosen.position - 1] if chosen.position > 0 else None
    if (
        chosen.kind == "sentence"
        and before is not None
        and before.kind == "sentence"
        and before.paragraph == chosen.paragraph
        and (_starts_dependent(chosen) or len(chosen.text.split()) < SHORT_UNIT_WORDS)
    ):
        positions.add(before.position)
    if chosen.text.rstrip().endswith(":"):
        following = units[chosen.position + 1 : chosen.position + 5]
        positions.update(u.position for u in following if u.kind in ("item", "row"))
    return positions


def _group_text(units: Sequence[Unit], positions: set[int]) -> str:
    parts = [units[position] for position in sorted(positions)]
    text = parts[0].text
    for previous, part in pairwise(parts):
        separator = " " if part.kind == "sentence" and previous.kind == "sentence" else "; "
        if previous.text.rstrip().endswith(":"):
            separator = " "
        text += separator + part.text
    text = " ".join(text.split())
    if len(text) > MAX_QUOTE_CHARS:
        text = text[: MAX_QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


@dataclass
class _Group:
    passage: int
    units: Sequence[Unit]
    positions: set[int]
    score: float


def compose(
    *,
    question: QuestionTerms,
    chunks: Sequence[Any],
    analyze: Analyzer,
    no_answer_message: str,
) -> Composition:
    """Quote the sentences that answer `question` from the best passages, or say the knowledge base does not
    know (`no_answer_message`) when no sentence covers at least MIN_COVERAGE of it."""
    if not question.weights or not chunks:
        return Composition(no_answer_message)
    scored = _scored_units(question, chunks, analyze)
    if not scored:
        return Composition(no_answer_message)
    best = scored[0][0].score
    required = min(MIN_COVERAGE, MIN_MATCHED_WEIGHT / question.total)
    if best < required or not scored[0][0].terms & question.weights.keys():
        return Composition(no_answer_message)
    groups = _quote_groups(scored, question, best=best, required=required)
    quotes = [Quote(chunks[g.passage], _group_text(g.units, g.positions), g.score) for g in groups]
    lines = [f"{quote.text} [{number}]" for number, quote in enumerate(quotes, 1)]
    if all(units_kind == "sentence" for g in groups for units_kind in (g.units[p].kind for p in g.positions)):
        return Composition(" ".join(lines), quotes)
    return Composition("\n".join(f"- {line}" for line in lines), quotes)


def _scored_units(question: QuestionTerms, chunks: Sequence[Any], analyze: Analyzer) -> list[tuple[Unit, list[Unit]]]:
    """Every unit of the best passages with its coverage of the question, best first (with its passage's units)."""
    scored: list[tuple[Unit, list[Unit]]] = []
    for passage, chunk in enumerate(chunks[:MAX_PASSAGES]):
        units = split_units(chunk.content or "", passage)
        section_terms = frozenset(analyze(_section(chunk)))
        for unit in units:
            unit.terms = frozenset(analyze(unit.text))
            # Ties go to the better-ranked passage and the earlier sentence.
            unit.score = question.coverage(unit.terms, section_terms) - passage * 1e-3 - unit.position * 1e-6
            scored.append((unit, units))
    scored.sort(key=lambda pair: pair[0].score, reverse=True)
    return scored


def _quote_groups(
    scored: list[tuple[Unit, list[Unit]]], question: QuestionTerms, *, best: float, required: float
) -> list[_Group]:
    """The units worth quoting, with their neighbours, merged into at most MAX_QUOTES groups of adjacent units."""
    chosen: list[Unit] = []
    groups: list[_Group] = []
    covered: set[str] = set()
    for unit, units in scored:
        if unit.score <= 0:
            break
        new_terms = (unit.terms & question.weights.keys()) - covered
        if chosen:
            if unit.score < RELATIVE_QUOTE_FLOOR * best and not (new_terms and unit.score >= required / 2):
                continue
            if not new_terms and (
                unit.score < best * 0.9 or any(_overlap(unit, o) >= DUPLICATE_OVERLAP for o in chosen)
            ):
                continue  # says nothing the quotes so far do not
        positions = _with_neighbours(units, unit)
        joined = next(
            (
                group
                for group in groups
                if group.passage == unit.passage and any(abs(p - q) <= 1 for p in positions for q in group.positions)
            ),
            None,
        )
        if joined is not None:
            joined.positions |= positions
        elif len(groups) < MAX_QUOTES:
            groups.append(_Group(unit.passage, units, positions, unit.score))
        else:
            continue
        chosen.append(unit)
        covered |= unit.terms & question.weights.keys()
    return groups


def _overlap(first: Unit, second: Unit) -> float:
    if not first.terms or not second.terms:
        return 0.0
    return len(first.terms & second.terms) / min(len(first.terms), len(second.terms))


def best_sentences(*, chunk: Any, question: QuestionTerms, analyze: Analyzer, limit_chars: int = 300) -> str:
    """The passage's sentences that cover the question best (in order), as a citation snippet; the passage's
    opening when none does."""
    units = split_units(chunk.content or "")
    if not units:
        return (chunk.content or "")[:limit_chars]
    for unit in units:
        unit.score = question.coverage(frozenset(analyze(unit.text)))
    ranked = sorted(units, key=lambda unit: (-unit.score, unit.position))
    if ranked[0].score <= 0:
        picked = units[:2]
    else:
        picked = sorted((u for u in ranked[:2] if u.score >= 0.75 * ranked[0].score), key=lambda u: u.position)
    snippet = " ".join(unit.text for unit in picked)
    if len(snippet) > limit_chars:
        snippet = snippet[: limit_chars - 1].rsplit(" ", 1)[0] + "…"
    return snippet


def answer_pieces(answer: str) -> list[str]:
    """Split a finished answer into word-sized pieces for `delta` events."""
    return re.findall(r"\S+\s*|\s+", answer)
