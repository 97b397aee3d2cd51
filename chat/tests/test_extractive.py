"""Extractive (zero-key) answers: the sentences that answer, each cited with itself as the snippet."""

import re
from dataclasses import dataclass

import pytest

from chat.answering import analyzer_for
from chat.extractive import answer_pieces, best_sentences, compose, question_terms, split_units

NO_ANSWER = "I couldn't find this in the knowledge base."


@dataclass
class Passage:
    content: str
    score: float = 1.0
    section: str = ""
    chunk_id: str = "c"


@dataclass
class Bot:
    language: str = "english"


analyze = analyzer_for(Bot())


def answer(question: str, passages: list[Passage]):
    return compose(
        question=question_terms(question, analyze), chunks=passages, analyze=analyze, no_answer_message=NO_ANSWER
    )


def cited(composition) -> list[tuple[str, int]]:
    """(quoted text, n) for every [n] in the answer (prose, or one bullet per quote)."""
    parts = re.split(r" \[(\d+)\]\s*", composition.text)
    return [(parts[i].strip().removeprefix("- "), int(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]


def test_quotes_the_sentence_that_answers_not_the_passage_opening():
    passages = [
        Passage("Welcome to the handbook. The capital of Quaxland is Blipton. Fish are sold daily.", 2.0),
        Passage("Blipton has purple lighthouses. Unrelated sentence about weather.", 1.5),
    ]

    result = answer("What is the capital of Quaxland?", passages)

    assert result.text == "The capital of Quaxland is Blipton. [1]"
    assert [quote.text for quote in result.quotes] == ["The capital of Quaxland is Blipton."]


def test_index_and_answer_share_the_analyzer_so_plurals_and_stems_meet():
    passages = [
        Passage(
            "Our offices open at 8. Lost or stolen laptops must be reported at once: call the IT service desk "
            "on extension 4400, day or night. Printers are on every floor.",
        )
    ]

    result = answer("Who do I call if I lose my laptop?", passages)

    assert not result.no_answer
    assert "extension 4400" in result.text
    assert result.text.startswith("Lost or stolen laptops")  # never a fragment starting mid-sentence


def test_says_it_does_not_know_when_nothing_covers_the_question():
    passages = [Passage("The cafeteria serves lunch from noon. Parking is free for employees.")]

    result = answer("What is the capital of Mars?", passages)

    assert result.no_answer and result.text == NO_ANSWER and result.quotes == []


def test_a_question_with_no_searchable_word_has_no_answer():
    assert answer("Who is it?", [Passage("It is what it is.")]).no_answer


def test_table_rows_are_quoted_with_their_headers():
    passages = [
        Passage(
            "# Contacts\n\n| Device | Contact | Hours |\n|---|---|---|\n| Laptop | extension 4400 | 24/7 |\n"
            "| Badge | reception | 8-18 |\n"
        )
    ]

    result = answer("Which contact for a lost badge?", passages)

    assert result.quotes[0].text == "Device: Badge; Contact: reception; Hours: 8-18"


def test_a_sentence_that_leans_on_the_previous_one_is_quoted_with_it():
    passages = [Passage("Employees get 25 days of paid vacation per year. It increases to 30 days after five years.")]

    result = answer("How does paid vacation increase after five years?", passages)

    assert result.quotes[0].text == (
        "Employees get 25 days of paid vacation per year. It increases to 30 days after five years."
    )


def test_every_citation_points_at_a_snippet_containing_the_quoted_text():
    passages = [
        Passage("Refunds are paid within 14 days of the request. Shipping is free above 50 euros.", 3.0, chunk_id="a"),
        Passage("Refund requests need the order number. Gift cards cannot be refunded.", 2.0, chunk_id="b"),
    ]

    result = answer("How are refunds and refund requests handled?", passages)

    markers = cited(result)
    assert len(markers) == len(result.quotes) >= 2
    for text, number in markers:
        quote = result.quotes[number - 1]
        assert text == quote.text
        assert all(word in quote.chunk.content for word in quote.text.split())


def test_heading_path_counts_towards_the_question():
    passages = [Passage("Customers get their money back within 30 days.", section="Handbook › Refund policy")]

    result = answer("What is the refund policy about money back?", passages)

    assert result.quotes and "30 days" in result.text


def test_units_split_sentences_items_and_rows_but_not_abbreviations():
    units = split_units(
        "Use tools e.g. a hammer. Then stop.\n\n- first item\n- second item\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )

    assert [unit.text for unit in units] == [
        "Use tools e.g. a hammer.",
        "Then stop.",
        "first item",
        "second item",
        "a: 1; b: 2",
    ]


def test_best_sentences_snippet_prefers_the_matching_sentence():
    passage = Passage("Opening words here. The warranty lasts two years. Closing words.")

    snippet = best_sentences(
        chunk=passage, question=question_terms("How long is the warranty?", analyze), analyze=analyze
    )

    assert snippet == "The warranty lasts two years."


@pytest.mark.parametrize("text", ["Hello world [1].", "  a  b ", ""])
def test_answer_pieces_rebuild_the_answer(text):
    assert "".join(answer_pieces(text)) == text
