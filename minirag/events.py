"""Domain events (`source.ingested`, `source.failed`, `chat.message`, `usage.threshold`), emitted through one
function.

Subscribers (webhook delivery) register with `subscribe`; they are called after the surrounding
transaction commits, so nobody hears of data that was rolled back. A failing subscriber is logged and
never breaks the caller.
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

Subscriber = Callable[[str, str, dict], None]  # (schema_name, event, payload)
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def emit(event: str, payload: dict) -> None:
    """Publish `event` for the current tenant schema once the current transaction commits."""
    if event not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event!r}")
    schema_name = connection.schema_name
    logger.info("event %s in %s: %s", event, schema_name, {k: payload[k] for k in list(payload)[:3]})

    def publish() -> None:
        for subscriber in list(_subscribers):
            try:
                subscriber(schema_name, event, payload)
            except Exception:
                logger.exception("event subscriber %r failed for %s", subscriber, event)

    transaction.on_commit(publish)
