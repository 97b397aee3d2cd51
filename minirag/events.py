"""Domain events (`source.ingested`, `source.failed`, `chat.message`, `usage.threshold`), emitted through one
function, and internal events (`bot.index_config_changed`) by which one app reacts to another without
importing it.

Subscribers (webhook delivery) register with `subscribe`; they are called after the surrounding
transaction commits, so nobody hears of data that was rolled back. A failing subscriber is logged and
never breaks the caller. Internal events reach only the subscribers registered for them with
`subscribe_internal`: they are never offered to webhooks (nor listed in EVENT_TYPES).
"""

import logging
from collections.abc import Callable

from django.db import connection, transaction

logger = logging.getLogger("minirag.events")

SOURCE_INGESTED = "source.ingested"
SOURCE_FAILED = "source.failed"
CHAT_MESSAGE = "chat.message"
USAGE_THRESHOLD = "usage.threshold"  # a plan quota reached 80 % or 100 % (usage.services)
EVENT_TYPES = (SOURCE_INGESTED, SOURCE_FAILED, CHAT_MESSAGE, USAGE_THRESHOLD)
# Internal: a bot's embedding model or language changed (bots.services); sources re-index its sources.
BOT_INDEX_CONFIG_CHANGED = "bot.index_config_changed"
INTERNAL_EVENT_TYPES = (BOT_INDEX_CONFIG_CHANGED,)

Subscriber = Callable[[str, str, dict], None]  # (schema_name, event, payload)
_subscribers: list[Subscriber] = []
_internal_subscribers: dict[str, list[Subscriber]] = {event: [] for event in INTERNAL_EVENT_TYPES}


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def subscribe_internal(event: str, subscriber: Subscriber) -> None:
    """Hear the internal `event` (called from an AppConfig.ready())."""
    subscribers = _internal_subscribers[event]  # KeyError: not an internal event
    if subscriber not in subscribers:
        subscribers.append(subscriber)


def emit(event: str, payload: dict) -> None:
    """Publish `event` for the current tenant schema once the current transaction commits."""
    if event in EVENT_TYPES:
        subscribers = _subscribers
    elif event in INTERNAL_EVENT_TYPES:
        subscribers = _internal_subscribers[event]
    else:
        raise ValueError(f"Unknown event type {event!r}")
    schema_name = connection.schema_name
    logger.info("event %s in %s: %s", event, schema_name, {k: payload[k] for k in list(payload)[:3]})

    def publish() -> None:
        for subscriber in list(subscribers):
            try:
                subscriber(schema_name, event, payload)
            except Exception:
                logger.exception("event subscriber %r failed for %s", subscriber, event)

    transaction.on_commit(publish)
