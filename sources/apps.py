from django.apps import AppConfig
from django.conf import settings

from minirag import events
from minirag.tenancy import periodic


class SourcesConfig(AppConfig):
    name = "sources"
    verbose_name = "Knowledge sources"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, and apps.py is imported before the app
        # registry is ready. sources.tasks is imported to register its tasks in every process (web, worker,
        # beat, commands): the services queue them by their registered names.
        from sources import refresh, tasks  # noqa: F401
        from sources.index.schema import create_index_tables
        from sources.services.ingestion import on_bot_index_config_changed
        from sources.stats import SIZE_QUOTAS, sources_quota_usage
        from tenants.signals import tenant_schema_created
        from usage.selectors import register_size_counter

        # Fast tenant creation skips migrations: the index tables (raw SQL) are added here.
        tenant_schema_created.connect(create_index_tables, dispatch_uid="sources-index-tables")
        register_size_counter(SIZE_QUOTAS, sources_quota_usage)  # usage counts these quotas through this
        events.subscribe(refresh.record_outcome)  # the scheduled refresh's back-off
        # A bot's new embedding model or language: its sources are re-indexed (bots does not know sources).
        events.subscribe_internal(events.BOT_INDEX_CONFIG_CHANGED, on_bot_index_config_changed)

        # Beat (sources.tasks): fail sources stuck in "processing" so they can be re-ingested; start due refreshes.
        periodic(
            "sources-sweep-stuck",
            task="sources.tasks.sweep_stuck_sources",
            seconds=settings.INGEST_SWEEP_INTERVAL_SECONDS,
            queue="default",  # not behind long ingestions
        )
        periodic(
            refresh.BEAT_ENTRY,
            task="sources.refresh.refresh_due_sources",
            seconds=settings.REFRESH_CHECK_INTERVAL_SECONDS,
            expires=settings.REFRESH_CHECK_INTERVAL_SECONDS,
        )
