"""The lexical analyzer: one function family for indexing, querying and composing extractive answers.

`analyze(text, language)` turns text into terms, in order:
1. Unicode normalisation of the whole text: NFKC (compatibility forms: ligatures, full-width letters,
   superscripts) and case folding (`casefold`, so "Straße" and "STRASSE" meet);
2. words are runs of letters, digits and underscores (`\\w+`); one-letter words are dropped (digits kept);
3. stop words of the language are dropped (the Snowball project's lists, vendored in `stopwords/`);
4. Snowball stemming (PyStemmer) for the language, on the word *with* its diacritics — the stemmers'
   suffix rules are written with them (French "activité" → "activ", but "activite" → "activit");
5. diacritics are folded off Latin letters of the stem ("café" → "cafe"); other scripts keep their marks
   (in Devanagari or Tamil they are vowels, not accents).
Language "none" skips 3 and 4. Every step works word by word, so a text and any query built from its words
analyze to the same terms; results are memoised per word, and a word is stemmed once per process.

Terms are hashed to 31-bit ids (`term_id`). The PostgreSQL index stores raw term frequencies and lengths
(`term_frequencies`) and scores BM25 at query time with the bot's own statistics. The Qdrant backend stores
BM25-saturated term frequencies (`saturated_weights`) and relies on Qdrant's IDF modifier.
"""

import hashlib
import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import Stemmer

# Bump when analysis changes: it is part of every source's index signature, forcing a re-index.
LEXICAL_VERSION = "3"
K1 = 1.2  # as the PostgreSQL index (sources.index.postgres.BM25_K1, BM25_B)
B = 0.75
NO_LANGUAGE = "none"
DEFAULT_LANGUAGE = "english"
# Extra occurrences credited to each term of a chunk's heading path (see term_frequencies).
SECTION_WEIGHT = 2
# The average chunk length (terms) assumed when a bot has no statistics yet (Qdrant index, saturated_weights).
AVERAGE_DOCUMENT_TERMS = 256.0


def _combining_mark_ranges() -> str:
    """A regex class body of the Unicode combining marks (Mn, Mc, Me) in planes 0–1 and the variation selectors:
    `\\w` leaves them out, which would cut Devanagari or Tamil words at every vowel sign."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x20000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    ranges.append((0xE0100, 0xE01EF))
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


# A word: a letter, digit or underscore, then more of them or combining marks.
_TOKEN = re.compile(rf"\w[\w{_combining_mark_ranges()}]*")
_STOPWORD_DIR = Path(__file__).with_name("stopwords")
_WORD_CACHE_LIMIT = 200_000  # words per language; the cache is dropped and rebuilt past this

# Latin letters whose base letter is not found by Unicode decomposition.
_LATIN_SPECIAL = {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ŀ": "l"}


def _latin_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):  # Latin-1 Supplement, Latin Extended-A and -B
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0]
        if base != char and base.isascii() and base.isalpha():
            table[code] = base.lower() if char.islower() else base
    for char, replacement in _LATIN_SPECIAL.items():
        table[ord(char)] = replacement
    return table


_LATIN_FOLD = _latin_fold_table()


def normalize(text: str) -> str:
    """NFKC, then case folding (NFKC again: folding can produce non-normalised sequences)."""
    # Dotless ı has no case pair that folds back to it ("ı".upper().casefold() == "i"): fold it before stemming,
    # so a question in capitals meets the passage (Turkish "KITAPLARI" and "kitapları").
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).replace("ı", "i")


def fold_diacritics(word: str) -> str:
    """Strip accents from Latin letters ("crème" → "creme"); other scripts are left as they are."""
    if word.isascii():
        return word
    word = unicodedata.normalize("NFC", word).translate(_LATIN_FOLD)
    # Combining marks left on Latin letters (letters with no precomposed form, e.g. "q̃").
    if any(unicodedata.combining(char) for char in word):
        decomposed = unicodedata.normalize("NFD", word)
        kept = []
        for char in decomposed:
            if unicodedata.combining(char) and kept and kept[-1].isascii():
                continue
            kept.append(char)
        word = unicodedata.normalize("NFC", "".join(kept))
    return word


def _read_stopwords(language: str) -> frozenset[str]:
    """The Snowball stop list of `language` (empty when Snowball has none), in analyzed-word form."""
    path = _STOPWORD_DIR / f"{language}.txt"
    if not path.is_file():
        return frozenset()
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("|", 1)[0].strip()
        for word in entry.split():
            for token in _TOKEN.findall(normalize(word)):
                words.add(token)
    # A word typed without its accents is the same stop word ("etre" for "être").
    return frozenset(words | {fold_diacritics(word) for word in words})


class Analyzer:
    """One language's analysis, with its word → term memo. Thread-safe (PyStemmer objects are not)."""

    def __init__(self, language: str):
        self.language = language
        self.stemmer = None if language == NO_LANGUAGE else Stemmer.Stemmer(language)
        self.stopwords = frozenset() if language == NO_LANGUAGE else _read_stopwords(language)
        self._terms: dict[str, str] = {}  # word → term ("" for a dropped word)
        self._lock = threading.Lock()

    def _term(self, word: str) -> str:
        if (len(word) < 2 and not word.isdigit()) or word in self.stopwords:
            return ""
        if self.stemmer is not None:
            word = self.stemmer.stemWord(word)
        return fold_diacritics(word)

    def terms(self, text: str) -> list[str]:
        memo = self._terms
        result = []
        for word in _TOKEN.findall(normalize(text)):
            term = memo.get(word)
            if term is None:
                with self._lock:
                    if len(memo) >= _WORD_CACHE_LIMIT:
                        memo.clear()
                    term = memo[word] = self._term(word)
            if term:
                result.append(term)
        return result


_analyzers: dict[str, Analyzer] = {}
_analyzers_lock = threading.Lock()


def analyzer(language: str = DEFAULT_LANGUAGE) -> Analyzer:
    """The shared analyzer of a language (a Snowball algorithm name, or "none"). ValueError if unknown."""
    language = (language or DEFAULT_LANGUAGE).lower()
    found = _analyzers.get(language)
    if found is None:
        if language != NO_LANGUAGE and language not in Stemmer.algorithms():
            raise ValueError(f"No Snowball stemmer for language {language!r}")
        with _analyzers_lock:
            found = _analyzers.setdefault(language, Analyzer(language))
    return found


def analyze(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The terms of `text`, in order (stop words dropped, stemmed, folded): what the index stores and a query
    matches, and what answer composition compares sentences with."""
    return analyzer(language).terms(text)


def signature(language: str) -> str:
    """What the index entries written with this analyzer depend on (part of a source's index signature)."""
    return f"{LEXICAL_VERSION}/{(language or DEFAULT_LANGUAGE).lower()}/section={SECTION_WEIGHT}"


@lru_cache(maxsize=200_000)
def term_id(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def saturated_weights(
    counts: dict[int, int], length: int, *, average_length: float = AVERAGE_DOCUMENT_TERMS
) -> dict[int, float]:
    """BM25's document-side factor per term (the Qdrant index: Qdrant supplies the IDF)."""
    length_norm = 1 - B + B * (length / average_length)
    return {index: count * (K1 + 1) / (count + K1 * length_norm) for index, count in sorted(counts.items())}


def term_frequencies(text: str, *, language: str = DEFAULT_LANGUAGE, section: str = "") -> tuple[dict[int, int], int]:
    """({term id: occurrences}, number of terms): a chunk's postings and its BM25 length.

    `section` is the chunk's heading path ("Title › Heading"): each distinct term in it counts SECTION_WEIGHT
    extra occurrences (a BM25F-style title field; once per term, so a path repeating a word is no stronger).
    The length is the text's alone."""
    words = analyze(text, language)
    counts: dict[int, int] = {}
    for term, count in Counter(words).items():
        index = term_id(term)
        counts[index] = counts.get(index, 0) + count
    if section and SECTION_WEIGHT:
        for index in {term_id(term) for term in analyze(section, language)}:
            counts[index] = counts.get(index, 0) + SECTION_WEIGHT
    return counts, len(words)


def query_terms(text: str, *, language: str = DEFAULT_LANGUAGE) -> list[int]:
    """The distinct term ids of a query, sorted."""
    return sorted({term_id(term) for term in analyze(text, language)})
