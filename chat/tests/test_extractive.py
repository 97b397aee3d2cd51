"""Extractive (zero-key) answers: relevant sentences, cited with the passage's position."""

from dataclasses import dataclass

from chat.extractive import NOTHING_FOUND, answer_pieces, extractive_answer


@dataclass
class Passage:
    content: str
    score: float


def test_quotes_the_most_relevant_sentences_with_citations():
    chunks = [
        Passage("Intro text here. The capital of Quaxland is Blipton. Fish are sold daily.", 2.0),
        Passage("Blipton has purple lighthouses. Unrelated sentence about weather.", 1.5),
    ]

    answer = extractive_answer(query="What is the capital of Quaxland?", chunks=chunks)

    assert answer.splitlines()[1] == "- The capital of Quaxland is Blipton. [1]"
    assert "Fish are sold" not in answer and "[2]" not in answer  # passage 2 shares no word with the question


def test_weak_passages_are_left_out_but_numbering_follows_sources():
    chunks = [
        Passage("Blipton is the capital.", 3.0),
        Passage("The capital moved once.", 0.5),  # below 35 % of the best score
        Passage("A capital city needs a harbour.", 2.0),
    ]

    answer = extractive_answer(query="capital", chunks=chunks)

    assert "[1]" in answer and "[2]" not in answer and "- A capital city needs a harbour. [3]" in answer


def test_nothing_retrieved_says_so():
    assert extractive_answer(query="anything", chunks=[]) == NOTHING_FOUND


def test_pieces_rebuild_the_answer():
    answer = "Here is\\nwhat  it says. [1]"
    assert "".join(answer_pieces(answer)) == answer and len(answer_pieces(answer)) > 3
