"""`manage.py doctor`: check settings, the database (and its pgvector), the broker, a worker, beat, the
knowledge index and provider keys; say what is wrong and how to fix it. Exit status 1 when something is
broken (a FAIL), 0 otherwise (warnings included). It reads the same configuration as the server (including
var/runtime.env while `make run` is up) and answers in a few seconds."""

import threading

from django.core.management.base import BaseCommand

from tenants.doctor_checks import (  # noqa: F401  (re-exported: healthcheck and the tests import them from here)
    CHECKS,
    FAIL,
    OK,
    WARN,
    WORKER_QUEUES,
    Finding,
    check_beat,
    check_broker,
    check_database,
    check_index,
    check_provider_keys,
    check_runtime,
    check_settings,
    check_worker,
)


def _import_litellm() -> None:
    try:
        import litellm  # noqa: F401
    except Exception:  # noqa: BLE001, S110 - the provider check reports it
        pass


class Command(BaseCommand):
    help = (
        "Check settings, database (+ pgvector), broker, worker, beat, knowledge index and provider keys; "
        "print what is wrong and how to fix it."
    )

    def handle(self, *args, **options):
        # LiteLLM (provider keys) takes seconds to import: do it while the other checks wait on the network.
        threading.Thread(target=_import_litellm, daemon=True).start()
        findings: list[Finding] = []
        for check in CHECKS:
            try:
                findings.extend(check())
            except Exception as error:  # noqa: BLE001 - a check that breaks is a finding, never a traceback
                area = check.__name__.removeprefix("check_")
                findings.append(Finding(area, FAIL, f"the check itself failed ({type(error).__name__}: {error})"))
        styles = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
        for finding in findings:
            self.stdout.write(f"{styles[finding.level](f'[{finding.level:4}]')} {finding.area:9} {finding.message}")
            if finding.fix and finding.level != OK:
                self.stdout.write(f"{'':17}fix: {finding.fix}")
        failures = sum(1 for finding in findings if finding.level == FAIL)
        warnings = sum(1 for finding in findings if finding.level == WARN)
        self.stdout.write(f"\n{failures} problem(s), {warnings} warning(s).")
        if failures:
            raise SystemExit(1)
