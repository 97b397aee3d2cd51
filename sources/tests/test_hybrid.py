"""Hybrid retrieval plumbing: both legs (BM25 postings and pgvector) reach the fused answer of `retrieve`.

The fake server embeds with a synonym-aware bag of words here (its `embedder` hook), so the dense leg finds a
passage that shares no word with the question — which BM25 cannot — while BM25 finds a long passage whose two
matching words are diluted in its vector, so the dense leg alone ranks it below a near miss.
"""

import re

import pytest

from bots.services import bot_create
from minirag.tests.fake_openai import embed_text
from sources import services
from sources.index import DenseSpace, Query, get_index
from sources.models import SourceStatus
from sources.pipeline import lexical
from sources.retrieval import query_embedding, retrieve
from sources.tests.factories import SourceFactory

SYNONYMS = {"automobile": "car", "vehicle": "car", "upkeep": "maintenance", "servicing": "maintenance"}
DIMENSION = 256  # few hash collisions between the question's words and the others
QUERY = "car maintenance"
SYNONYM_ONLY = "Automobile upkeep and vehicle servicing."
NEAR_MISS = "Vehicle parking rules."  # close in meaning to the question, no word of it
FILLER_WORDS = (
    "harbour storm lighthouse signal fisherman festival season chart bakery bread river valley mountain engine "
    "turbine voltage circuit protocol packet latency server archive ledger invoice contract clause tenant policy"
).split()
LONG_LEXICAL = " ".join(FILLER_WORDS[:20]) + " car maintenance " + " ".join(FILLER_WORDS[8:])
UNRELATED = [
    "The lighthouse keeper logs every storm.",
    "Bakery bread is delivered before dawn.",
    "The ledger records each invoice and contract.",
]


def synonym_embedder(texts: list[str]) -> list[list[float]]:
    def canonical(text: str) -> str:
        return " ".join(SYNONYMS.get(word, word) for word in re.findall(r"\w+", text.lower()))

    return [embed_text(canonical(text), DIMENSION) for text in texts]


@pytest.fixture
def hybrid_bot(in_tenant, fake_openai, settings, django_capture_on_commit_callbacks):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    fake_openai.embedder = synonym_embedder
    bot = bot_create(
        name="Hybrid",
        retrieval_top_k=2,
        embedding_model=f"openai/fake-embed-{DIMENSION}",
        credentials={"api_key": "test-key", "api_base": fake_openai.base_url},
    )
    for text in [SYNONYM_ONLY, NEAR_MISS, LONG_LEXICAL, *UNRELATED]:
        source = SourceFactory(bot_profile=bot, content=text)
        with django_capture_on_commit_callbacks(execute=True):
            services.source_ingest(source=source)
        source.refresh_from_db()
        assert source.status == SourceStatus.READY, source.error_message
    return bot


def _contents(chunks) -> list[str]:
    return [chunk.content for chunk in chunks]


def test_both_legs_contribute_to_the_fused_answer(hybrid_bot, fake_openai):
    terms = lexical.query_terms(QUERY, language=hybrid_bot.language)
    vector = query_embedding(bot=hybrid_bot, query=QUERY)
    space = DenseSpace(hybrid_bot.embedding_model, DIMENSION)
    index = get_index()
    sparse = index.search(bot_id=str(hybrid_bot.pk), query=Query(terms=terms), limit=2, score_threshold=None)
    dense = index.search(
        bot_id=str(hybrid_bot.pk), query=Query(terms=[], dense=vector, space=space), limit=2, score_threshold=None
    )
    # The premise: each leg alone misses what the other finds.
    assert _contents(sparse) == [LONG_LEXICAL]  # no word of the synonym passage is in the question
    assert _contents(dense) == [SYNONYM_ONLY, NEAR_MISS]  # the long passage's two words are diluted in its vector

    calls_before = len(fake_openai.embedding_calls)
    fused = retrieve(bot=hybrid_bot, query=QUERY)

    assert set(_contents(fused)) == {SYNONYM_ONLY, LONG_LEXICAL}
    assert len(fake_openai.embedding_calls) == calls_before + 1  # the question was embedded through LiteLLM
