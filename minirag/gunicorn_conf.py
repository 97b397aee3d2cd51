"""gunicorn hooks used by `make run`."""

import os


def post_worker_init(worker):
    # Single-process mode: no Celery worker exists, so this web process also runs the beat schedule.
    if os.environ.get("MINIRAG_INPROCESS_BEAT") == "true":
        from minirag.celery import app
        from minirag.scheduler import InProcessBeat

        InProcessBeat(app).start()
