"""In-process periodic jobs for single-process mode (`make run` without a worker).

With embedded Qdrant only one process may open the index, so `make run` serves everything from the web
process and runs tasks eagerly; there is no worker for celery beat to feed. This thread plays beat's part
there: it runs the same beat schedule (refresh of due sources, stuck-ingestion sweeper, delivery-log
pruning) in-process, one entry at a time. With a broker and a Qdrant server, the real beat runs instead.
"""

import logging
import threading
from datetime import UTC, datetime

from celery.schedules import maybe_schedule
from django.db import close_old_connections

logger = logging.getLogger("minirag.scheduler")


class InProcessBeat:
    def __init__(self, app, *, schedule: dict | None = None, tick_seconds: float = 5.0):
        self.app = app
        self.schedule = schedule if schedule is not None else app.conf.beat_schedule
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._last_run: dict[str, datetime] = {}
        self._thread: threading.Thread | None = None

    def due_entries(self, now: datetime) -> list[tuple[str, dict]]:
        """Entries whose schedule says they are due (each first runs one interval after start)."""
        due = []
        for name, entry in self.schedule.items():
            last = self._last_run.setdefault(name, now)
            schedule = maybe_schedule(entry["schedule"], app=self.app)
            run_every = getattr(schedule, "run_every", None)
            # Interval entries are compared with `now` (testable); crontab entries ask Celery (wall clock).
            is_due = (now - last) >= run_every if run_every is not None else schedule.is_due(last)[0]
            if is_due:
                due.append((name, entry))
        return due

    def run_due(self, now: datetime | None = None) -> list[str]:
        now = now or datetime.now(UTC)
        ran = []
        for name, entry in self.due_entries(now):
            self._last_run[name] = now
            try:
                self.app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
                ran.append(name)
            except Exception:  # one failing job must not stop the others
                logger.exception("periodic job %s failed", name)
            finally:
                close_old_connections()
        return ran

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="minirag-inprocess-beat", daemon=True)
        self._thread.start()
        logger.info("in-process beat started: %s", ", ".join(self.schedule) or "no entries")

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            self.run_due()
