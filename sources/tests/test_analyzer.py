"""The lexical analyzer shared by indexing, querying and extractive answers (sources.pipeline.lexical)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.models import ANALYZER_LANGUAGES
from sources.pipeline import lexical

LANGUAGES = st.sampled_from(ANALYZER_LANGUAGES)
# Words from many scripts, with accents, ligatures, full-width forms and combining marks.
ALPHABET = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "Zs"))
SAMPLE_WORDS = (
    "Laptop laptops RUNNING runs Café crème ﬁnance Ｆｕｌｌ Straße STRASSE Häuser activité été "
    "лаптопы домами σπίτια لڑکوں लड़कों வீடுகள் kitapları x² 4400 naïve Œuvre ǅemal"
).split()
WORDS = st.lists(st.one_of(st.sampled_from(SAMPLE_WORDS), st.text(ALPHABET, min_size=1, max_size=12)), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(ALPHABET, max_size=300), language=LANGUAGES)
def test_a_texts_query_terms_are_all_among_its_indexed_terms(text, language):
    indexed, length = lexical.term_frequencies(text, language=language)

    assert set(lexical.query_terms(text, language=language)) <= set(indexed)
    assert length == len(lexical.analyze(text, language)) == sum(indexed.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=WORDS, data=st.data(), language=LANGUAGES)
def test_any_run_of_a_texts_words_finds_that_text(words, data, language):
    """A question quoting part of a passage (any words of it, in any case) matches that passage's terms."""
    text = " ".join(words)
    start = data.draw(st.integers(0, len(words)))
    end = data.draw(st.integers(start, len(words)))
    question = " ".join(words[start:end])
    question = data.draw(st.sampled_from([question, question.upper(), question.lower()]))
    indexed, _ = lexical.term_frequencies(text, language=language, section="Handbook › Equipment")

    assert set(lexical.query_terms(question, language=language)) <= set(indexed)


@pytest.mark.parametrize(
    ("language", "forms"),
    [
        ("english", ["laptop", "laptops", "Laptop's"]),
        ("english", ["running", "runs", "run"]),
        ("english", ["connection", "connected", "connecting"]),
        ("french", ["activité", "activités"]),
        ("german", ["Häuser", "Hauser", "häuser"]),
        ("spanish", ["canciones", "canción"]),
        ("russian", ["домами", "дома"]),
    ],
)
def test_stemming_makes_word_forms_meet(language, forms):
    assert len({tuple(lexical.analyze(form, language)) for form in forms}) == 1


def test_stop_words_are_dropped_per_language_and_kept_without_one():
    assert lexical.analyze("Who do I call if I lose my laptop?") == ["call", "lose", "laptop"]
    assert lexical.analyze("le chat et la souris", "french") == ["chat", "sour"]
    assert lexical.analyze("der Hund und die Katze", "german") == ["hund", "katz"]
    # No Snowball stop list for Hindi: nothing dropped but one-letter words; "none" neither stems nor drops.
    assert lexical.analyze("the laptops", "none") == ["the", "laptops"]


def test_folding_case_width_ligatures_and_accents():
    assert lexical.analyze("CAFÉ café cafe Café") == ["cafe"] * 4
    assert lexical.analyze("ﬁnance Ｆｉｎａｎｃｅ", "english") == ["financ", "financ"]
    assert lexical.analyze("STRASSE Straße", "german") == lexical.analyze("strasse strasse", "german")
    assert lexical.analyze("Crème Brûlée Øresund", "none") == ["creme", "brulee", "oresund"]
    # Accents are folded after stemming, so the stemmer sees the word as written ("activité" → "activ").
    assert lexical.analyze("activités", "french") == ["activ"]


def test_scripts_with_combining_vowel_signs_keep_whole_words():
    assert lexical.analyze("लड़कों लड़का", "hindi") == ["लड़क", "लड़क"]
    assert lexical.analyze("வீடுகள்", "tamil") == ["வீடு"]
    assert lexical.analyze("σπίτια ΣΠΊΤΙΑ", "greek") == ["σπιτ", "σπιτ"]


def test_one_letter_words_go_and_numbers_stay():
    assert lexical.analyze("a b 7 x2 4400") == ["7", "x2", "4400"]


def test_the_section_weighs_each_of_its_terms_once_and_not_the_length():
    plain, plain_length = lexical.term_frequencies("Call extension 4400.")
    boosted, length = lexical.term_frequencies("Call extension 4400.", section="Laptop › Laptop loss")

    assert length == plain_length == 3
    assert boosted[lexical.term_id("laptop")] == lexical.SECTION_WEIGHT
    assert boosted[lexical.term_id("call")] == plain[lexical.term_id("call")]


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="klingon"):
        lexical.analyze("hello", "klingon")


def test_every_bot_language_has_an_analyzer_and_the_signature_names_it():
    for language in ANALYZER_LANGUAGES:
        lexical.analyze("text", language)
    assert lexical.signature("french") != lexical.signature("english")
    assert lexical.LEXICAL_VERSION in lexical.signature("english")


@pytest.mark.parametrize("language", ["basque", "turkish", "english"])
def test_a_question_in_capitals_meets_dotless_i(language):
    indexed, _ = lexical.term_frequencies("kitapları", language=language)

    assert set(lexical.query_terms("KITAPLARI", language=language)) <= set(indexed)
