"""The Celery app. Tasks are tenant-aware (tenant-schemas-celery): they run in the schema that queued them."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minirag.settings")

app = CeleryApp("minirag")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
