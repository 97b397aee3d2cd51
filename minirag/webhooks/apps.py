from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "minirag.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from minirag import events
        from minirag.webhooks.dispatch import on_event

        events.subscribe(on_event)
