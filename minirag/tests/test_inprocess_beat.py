"""Single-process mode runs the beat schedule in the web process."""

from datetime import UTC, datetime, timedelta

import pytest

from minirag.celery import app
from minirag.scheduler import InProcessBeat


def test_schedule_holds_every_periodic_job():
    names = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "sources.tasks.sweep_stuck_sources",
        "sources.refresh.refresh_due_sources",
        "minirag.webhooks.tasks.prune_deliveries",
    } <= names


@pytest.mark.django_db
def test_jobs_run_when_due_and_not_before(monkeypatch):
    calls = []
    monkeypatch.setitem(app.tasks, "probe.task", type("T", (), {"apply": lambda self, args, kwargs: calls.append(1)})())
    beat = InProcessBeat(app, schedule={"probe": {"task": "probe.task", "schedule": 60.0}})
    start = datetime.now(UTC)

    assert beat.run_due(start) == []  # first interval not elapsed
    assert beat.run_due(start + timedelta(seconds=30)) == []
    assert beat.run_due(start + timedelta(seconds=61)) == ["probe"]
    assert beat.run_due(start + timedelta(seconds=62)) == []
    assert len(calls) == 1


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others(monkeypatch):
    ran = []

    def boom(args, kwargs):
        raise RuntimeError("boom")

    schedule = {"bad": {"task": "bad.task", "schedule": 1.0}, "good": {"task": "good.task", "schedule": 1.0}}
    monkeypatch.setitem(
        app.tasks, "bad.task", type("B", (), {"apply": lambda self, args, kwargs: boom(args, kwargs)})()
    )
    monkeypatch.setitem(app.tasks, "good.task", type("G", (), {"apply": lambda self, args, kwargs: ran.append(1)})())
    beat = InProcessBeat(app, schedule=schedule)
    start = datetime.now(UTC)
    beat.run_due(start)

    assert beat.run_due(start + timedelta(seconds=2)) == ["good"]
    assert ran == [1]
