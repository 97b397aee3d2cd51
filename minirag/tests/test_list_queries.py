"""Every list endpoint costs a fixed number of queries: listing 12 rows costs what listing 2 costs.

Each case grows its list (with the related rows that could cause an N+1: children, messages, feedback, bots to
name), reads it once to settle one-off writes (the token's last-use stamp), then counts the queries of one read
before and after adding rows. The counts also have a ceiling, so a new per-request query shows up here too.
"""

import datetime as dt
import io
import json
import uuid
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.tests.factories import BotProfileFactory
from chat.models import Feedback, MessageRole
from chat.tests.factories import ChatFactory, MessageFactory
from minirag.tenancy import tenant_context
from sources.tests.factories import SourceFactory
from tenants.publishable_keys import publishable_key_create
from tenants.services import api_token_create
from tenants.tests.factories import UserFactory
from tenants.webhooks.models import WebhookDelivery
from tenants.webhooks.services import webhook_create
from usage.tests.factories import UsageEventFactory

pytestmark = pytest.mark.django_db

CEILING = 6  # today: 2–5 (the credential, the count, the rows, a parent or the bot names); printed with -s


@dataclass
class World:
    """What the growing lists hang off: a bot, a parent source, a chat and a webhook of tenant A."""

    handle: object
    bot: object
    parent: object
    chat: object
    webhook: object


@pytest.fixture
def world(tenant_a, settings) -> World:
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True  # the webhook points at a local address
    with tenant_context(tenant_a.tenant):
        bot = BotProfileFactory()
        parent = SourceFactory(bot_profile=bot)
        chat = ChatFactory(bot_profile_id=bot.id)
        webhook = webhook_create(url="http://127.0.0.1:9/hook", events=["source.ingested"], description="").webhook
    return World(tenant_a, bot, parent, chat, webhook)


def _tokens(world, n):
    for index in range(n):
        api_token_create(user=UserFactory(tenant=world.handle.tenant), name=f"token {index}")


def _publishable_keys(world, n):
    for index in range(n):
        publishable_key_create(
            tenant=world.handle.tenant,
            created_by=UserFactory(tenant=world.handle.tenant),
            bot_profile_id=world.bot.id,
            name=f"key {index}",
            allowed_origins=["https://shop.example"],
        )


def _users(world, n):
    UserFactory.create_batch(n, tenant=world.handle.tenant)


def _bots(world, n):
    BotProfileFactory.create_batch(n)


def _sources(world, n):
    for _ in range(n):
        parent = SourceFactory(bot_profile=world.bot)
        SourceFactory.create_batch(2, bot_profile=world.bot, parent=parent)


def _children(world, n):
    SourceFactory.create_batch(n, bot_profile=world.bot, parent=world.parent)


def _chats(world, n):
    for _ in range(n):
        chat = ChatFactory(bot_profile_id=BotProfileFactory().id)
        MessageFactory(chat=chat, role=MessageRole.USER)
        MessageFactory(chat=chat, role=MessageRole.ASSISTANT, feedback=Feedback.POSITIVE)


def _feedback_days(world, n):
    for days_ago in range(n):
        MessageFactory(
            chat=world.chat,
            role=MessageRole.ASSISTANT,
            feedback=Feedback.NEGATIVE,
            created_at=timezone.now() - dt.timedelta(days=days_ago, hours=1),
        )


def _messages(world, n):
    MessageFactory.create_batch(n, chat=world.chat)


def _usage(world, n):
    for index in range(n):
        UsageEventFactory(bot_profile_id=BotProfileFactory().id, model=f"model-{index % 3}")


def _deliveries(world, n):
    for index in range(n):
        WebhookDelivery.objects.create(
            webhook=world.webhook, delivery_id=uuid.uuid4(), event="source.ingested", payload={"n": index}
        )


def _webhooks(world, n):
    for index in range(n):
        webhook_create(url=f"http://127.0.0.1:9/hook/{index}", events=["source.ingested"], description="")


def _rows(response) -> int:
    """How many items the answer lists (so the test sees the list grow)."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response["Content-Type"].startswith("text/csv"):
        return len(list(io.StringIO(content.decode()))) - 1
    body = json.loads(content)
    if isinstance(body, list):
        return len(body)
    for key in ("chats", "messages", "by_bot"):
        if key in body:
            return len(body[key])
    raise AssertionError(f"no list in {sorted(body)}")


CASES = {
    "api-tokens": ("/v1/api-tokens", _tokens),
    "users": ("/v1/users", _users),
    "publishable-keys": ("/v1/publishable-keys", _publishable_keys),
    "bot-profiles": ("/v1/bot-profiles", _bots),
    "sources": ("/v1/sources", _sources),
    "sources-with-children": ("/v1/sources?include_children=true", _sources),
    "source-children": ("/v1/sources/{parent}/children", _children),
    "chats": ("/v1/chat", _chats),
    "chat-messages": ("/v1/chat/{chat}/messages", _messages),
    "chat-export-json": ("/v1/chat/{chat}/export", _messages),
    "chat-export-csv": ("/v1/chat/{chat}/export?format=csv", _messages),
    "bulk-export-json": ("/v1/chat/export", _chats),
    "bulk-export-csv": ("/v1/chat/export?format=csv", _chats),
    "stats-usage": ("/v1/stats/usage", _usage),
    "stats-usage-by-bot": ("/v1/stats/usage/by-bot", _usage),
    "stats-usage-by-model": ("/v1/stats/usage/by-model", _usage),
    "stats-cost-estimate": ("/v1/stats/cost-estimate", _usage),
    "stats-feedback": ("/v1/stats/feedback", _chats),
    "stats-feedback-trend": ("/v1/stats/feedback/trend", _feedback_days),
    "webhooks": ("/v1/webhooks", _webhooks),
    "webhook-deliveries": ("/v1/webhooks/{webhook}/deliveries", _deliveries),
}


def _read(client, path) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
        assert response.status_code == 200, response.content
        rows = _rows(response)
    return len(captured), rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_list_costs_the_same_queries_for_2_and_12_rows(world, case):
    template, grow = CASES[case]
    path = template.format(parent=world.parent.pk, chat=world.chat.pk, webhook=world.webhook.pk)
    client = world.handle.client()
    with tenant_context(world.handle.tenant):
        grow(world, 2)
    client.get(path)  # one-off writes (the token's last-use stamp) happen here, not in the counted reads
    few_queries, few_rows = _read(client, path)
    with tenant_context(world.handle.tenant):
        grow(world, 10)
    many_queries, many_rows = _read(client, path)
    print(f"{case}: {few_queries} queries for {few_rows} rows, {many_queries} for {many_rows}")
    assert many_rows > few_rows
    assert many_queries == few_queries
    assert few_queries <= CEILING
