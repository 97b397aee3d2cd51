from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from minirag import events
        from usage.services import on_event

        events.subscribe(on_event)  # chunk-quota thresholds after each ingestion
