from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "sources"
    verbose_name = "Knowledge sources"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from sources.index.schema import create_index_tables
        from sources.stats import SIZE_QUOTAS, sources_quota_usage
        from tenants.signals import tenant_schema_created
        from usage.selectors import register_size_counter

        # Fast tenant creation skips migrations: the index tables (raw SQL) are added here.
        tenant_schema_created.connect(create_index_tables, dispatch_uid="sources-index-tables")
        register_size_counter(SIZE_QUOTAS, sources_quota_usage)  # usage counts these quotas through this

        # Beat: fail sources stuck in "processing" so they can be re-ingested (CELERY_BEAT_SCHEDULE is shared).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "sources-sweep-stuck",
            {
                "task": "sources.tasks.sweep_stuck_sources",
                "schedule": float(settings.INGEST_SWEEP_INTERVAL_SECONDS),
                "options": {"queue": "default"},  # not behind long ingestions
            },
        )
