from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "sources"
    verbose_name = "Knowledge sources"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        # Beat: fail sources stuck in "processing" so they can be re-ingested (CELERY_BEAT_SCHEDULE is shared).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "sources-sweep-stuck",
            {
                "task": "sources.tasks.sweep_stuck_sources",
                "schedule": float(settings.INGEST_SWEEP_INTERVAL_SECONDS),
                "options": {"queue": "ingest"},
            },
        )
