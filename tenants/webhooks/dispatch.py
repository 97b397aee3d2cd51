"""The minirag.events subscriber: turns a committed domain event into queued webhook deliveries."""

from tenants.webhooks import services


def on_event(schema_name: str, event: str, payload: dict) -> None:
    services.webhook_dispatch_event(schema_name=schema_name, event=event, payload=payload)
