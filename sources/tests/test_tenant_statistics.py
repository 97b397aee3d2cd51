"""BM25 statistics (document count, average length, document frequencies) are the bot's own: another tenant's
or another bot's knowledge never moves a bot's scores (PostgreSQL index)."""

import pytest

from bots.tests.factories import BotProfileFactory
from minirag.tenancy import tenant_context
from sources import services
from sources.models import SourceStatus
from sources.retrieval import retrieve
from sources.tests.factories import SourceFactory

HANDBOOK = {
    "Laptop loss": "If you lose your laptop, call the IT desk at extension 4400 straight away.",
    "Laptop renewal": "Laptops are renewed every three years; the IT desk orders the new one.",
    "Vacation": "Vacation requests go to your manager two weeks ahead, through the HR portal.",
    "Expenses": "Travel expenses are refunded within a month when the receipts are attached.",
}
QUESTIONS = ["Who do I call if I lose my laptop?", "how are laptops renewed", "vacation request manager"]
# Other knowledge sharing the handbook's words, in very different proportions.
NOISE = [
    f"Laptop {n}: the laptop desk and the laptop manager renew laptops; call {n} about laptop vacation."
    for n in range(40)
]


@pytest.fixture
def lexical_only(settings):
    settings.KNOWLEDGE_INDEX = "postgres"
    settings.DEFAULT_EMBEDDING_MODEL = ""


def _ingest(run_on_commit, bot, documents: dict[str, str]) -> None:
    for name, content in documents.items():
        source = SourceFactory(bot_profile=bot, name=name, content=content)
        run_on_commit(services.source_ingest, source=source)
        source.refresh_from_db()
        assert source.status == SourceStatus.READY, source.error_message


def _rankings(bot) -> dict[str, list[tuple[str, float]]]:
    return {
        question: [(chunk.source_name, chunk.score) for chunk in retrieve(bot=bot, query=question, top_k=4)]
        for question in QUESTIONS
    }


def test_other_tenants_and_other_bots_leave_a_bots_scores_unchanged(lexical_only, tenant_a, tenant_b, run_on_commit):
    with tenant_context(tenant_a.tenant):
        bot = BotProfileFactory()
        _ingest(run_on_commit, bot, HANDBOOK)
        before = _rankings(bot)
    assert before[QUESTIONS[0]][0][0] == "Laptop loss"

    with tenant_context(tenant_b.tenant):
        _ingest(run_on_commit, BotProfileFactory(), {f"Noise {n}": text for n, text in enumerate(NOISE)})
    with tenant_context(tenant_a.tenant):
        sibling = BotProfileFactory()
        _ingest(run_on_commit, sibling, {f"Noise {n}": text for n, text in enumerate(NOISE)})
        after = _rankings(bot)

        assert after == before  # the same chunks, in the same order, with bit-identical scores
        # The same handbook next to the noise, in one bot, scores differently: the statistics are what moved.
        _ingest(run_on_commit, sibling, HANDBOOK)
        mixed = _rankings(sibling)
    handbook_scores = {name: score for name, score in mixed[QUESTIONS[0]] if name in HANDBOOK}
    assert handbook_scores and handbook_scores != {name: score for name, score in before[QUESTIONS[0]]}
