"""A labelled mini-collection: an employee handbook, questions with the answer a person accepts, and questions
it does not answer. Asked through the API as a user would, with a zero-key (extractive) bot and an LLM bot."""

import pytest

from chat.tests.conftest import ingest_text, make_extractive_bot
from minirag.tenancy import tenant_context
from usage.models import UsageEvent, UsageKind

HANDBOOK = {
    "IT and devices": """\
# IT and devices

## Laptops

Every employee receives a laptop on the first day. Laptops are replaced every four years.

## Lost or stolen devices

If your laptop or phone is lost or stolen, call the IT service desk on extension 4400 at once, day or night. \
The desk locks the device remotely and orders a replacement.

## Passwords

Passwords must be at least 14 characters long. They are changed only when a breach is suspected.
""",
    "Time off": """\
# Time off

## Vacation

Full-time employees get 25 days of paid vacation per year. It increases to 30 days after five years of service.

## Sick leave

Report sick leave to your manager before 10 am. A doctor's note is needed from the fourth day of absence.

## Parental leave

| Parent | Paid weeks | Unpaid weeks |
|---|---|---|
| Birth parent | 16 | 10 |
| Partner | 6 | 4 |
""",
    "Expenses and travel": """\
# Expenses and travel

## Expense claims

Submit expense claims within 30 days through the finance portal, with the receipts attached. Claims are \
reimbursed with the next monthly salary.

## Travel

Book train travel in second class. Flights are allowed only for trips over 600 kilometres.
""",
}

LABELLED = [
    ("Who do I call if I lose my laptop?", "extension 4400"),
    ("How long must a password be?", "14 characters"),
    ("How many vacation days do I get?", "25 days"),
    ("How many paid weeks of parental leave does a partner get?", "Partner; Paid weeks: 6"),
    ("When do I need a doctor's note?", "fourth day"),
    ("How quickly must I submit expense claims?", "within 30 days"),
    ("When are flights allowed?", "600 kilometres"),
    ("How often are laptops replaced?", "every four years"),
]
NOT_IN_THE_HANDBOOK = [
    "What is the dress code for client meetings?",
    "Can I bring my dog to the office?",
    "What is the capital of Australia?",
]


@pytest.fixture
def handbook_bot(tenant_a, django_capture_on_commit_callbacks):
    bot = make_extractive_bot(tenant_a.tenant, name="Handbook")
    for name, text in HANDBOOK.items():
        ingest_text(tenant_a.tenant, bot, name=name, content=text, capture=django_capture_on_commit_callbacks)
    return bot


def ask(client, bot, message, chat_id=None):
    body = {"bot_profile_id": str(bot.id), "message": message}
    if chat_id:
        body["chat_id"] = chat_id
    response = client.post("/v1/chat", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(("question", "expected"), LABELLED)
def test_extractive_answers_quote_the_answer_with_sentence_citations(tenant_a, handbook_bot, question, expected):
    body = ask(tenant_a.client(), handbook_bot, question)

    content = body["message"]["content"]
    assert expected in content and "[1]" in content
    for number, source in enumerate(body["sources"], 1):
        assert f"{source['content']} [{number}]" in content  # each [n] follows exactly the text it cites
        assert source["section"].startswith(source["source_name"])


@pytest.mark.parametrize("question", NOT_IN_THE_HANDBOOK)
def test_questions_the_handbook_does_not_answer_get_the_no_answer_message(tenant_a, handbook_bot, question):
    body = ask(tenant_a.client(), handbook_bot, question)

    assert body["message"]["content"] == handbook_bot.no_answer_message and body["sources"] == []


def test_the_no_answer_message_is_the_bots_own(tenant_a, handbook_bot):
    client = tenant_a.client()
    patched = client.patch(
        f"/v1/bot-profiles/{handbook_bot.id}", {"no_answer_message": "Ask HR on extension 2000."}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["no_answer_message"] == "Ask HR on extension 2000."

    body = ask(client, handbook_bot, "Can I bring my dog to the office?")

    assert body["message"]["content"] == "Ask HR on extension 2000."


def test_extractive_follow_up_retrieves_with_the_previous_turn(tenant_a, handbook_bot):
    client = tenant_a.client()
    first = ask(client, handbook_bot, "How many paid weeks of parental leave does a partner get?")

    follow_up = ask(client, handbook_bot, "What about the unpaid weeks?", chat_id=first["chat_id"])
    alone = ask(client, handbook_bot, "What about the unpaid weeks?")

    # Alone, both rows match equally and the first one wins; the conversation was about partners.
    assert follow_up["sources"][0]["content"].startswith("Parent: Partner")
    assert alone["sources"][0]["content"].startswith("Parent: Birth parent")


def test_llm_follow_up_is_condensed_into_a_standalone_question_for_retrieval(
    tenant_a, handbook_bot, fake_llm, settings
):
    client = tenant_a.client()
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    patched = client.patch(
        f"/v1/bot-profiles/{handbook_bot.id}",
        {"model": "openai/fake-chat", "credentials": {"api_key": "test-key", "api_base": fake_llm.base_url}},
        format="json",
    )
    assert patched.status_code == 200
    fake_llm.reply = "Fine."
    first = ask(client, handbook_bot, "What happens if my laptop is stolen?")
    fake_llm.reply = "How many paid weeks of parental leave does a partner get?"  # the condensed question

    ask(client, handbook_bot, "and for partners, how long?", chat_id=first["chat_id"])

    condense, answer = fake_llm.chat_calls[-2:]
    assert "standalone question" in condense.body["messages"][0]["content"]
    system = answer.body["messages"][0]["content"]
    assert "| Partner | 6 | 4 |" in system  # retrieved with the standalone question
    assert 'reply exactly "I couldn\'t find this in the knowledge base."' in system
    with tenant_context(tenant_a.tenant):
        assert UsageEvent.objects.filter(kind=UsageKind.CONDENSE, bot_profile_id=handbook_bot.id).count() == 1


def test_llm_bot_gets_no_passages_when_nothing_is_relevant(tenant_a, handbook_bot, fake_llm, settings):
    client = tenant_a.client()
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    client.patch(
        f"/v1/bot-profiles/{handbook_bot.id}",
        {"model": "openai/fake-chat", "credentials": {"api_key": "test-key", "api_base": fake_llm.base_url}},
        format="json",
    )
    fake_llm.reply = "I couldn't find this in the knowledge base."

    body = ask(client, handbook_bot, "What is the capital of Australia?")

    system = fake_llm.chat_calls[-1].body["messages"][0]["content"]
    assert "Context passages" not in system and "reply exactly" in system
    assert body["sources"] == [] and body["message"]["content"] == "I couldn't find this in the knowledge base."
