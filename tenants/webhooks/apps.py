from django.apps import AppConfig

from minirag import events


class WebhooksConfig(AppConfig):
    """Outbound webhooks: a tenant's integration with its own systems. Tenant-schema data (see models).

    It lives in `tenants/` because it belongs to the tenant as a whole and knows no domain app: it hears every
    app's domain events through minirag.events, so any app may emit them without importing it.
    """

    name = "tenants.webhooks"
    label = "webhooks"  # unchanged since it lived in minirag/: its tables and migration history keep the name
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, and apps.py is imported before the app
        # registry is ready.
        from tenants.webhooks.dispatch import on_event
        from tenants.webhooks.tasks import register_beat

        events.subscribe(on_event)
        register_beat()  # daily pruning of the delivery log
