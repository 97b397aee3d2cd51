from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Operations app: outbound webhooks, plus the back-off state of scheduled refresh (see models)."""

    name = "minirag.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks and scheduled refresh"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from minirag import events
        from minirag.webhooks.dispatch import on_event
        from minirag.webhooks.tasks import register_beat
        from sources import refresh

        events.subscribe(on_event)
        register_beat()  # daily pruning of the delivery log
        # Imported here so web, worker and beat processes all know the refresh tasks and the beat entry.
        refresh.register()
