"""Render the main operator console pages in headless Chromium and save the README's screenshots.

    .venv/bin/python docs/console_screenshots.py [--out docs]

Uses its own database (CONSOLE_DEMO_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/minirag_console_demo),
recreated at start and filled with a few demo tenants; starts the real server (gunicorn) on a free port,
signs in a superuser (session cookie) and captures the tenants list (docs/console.png), a tenant page
(docs/console-tenant.png) and the failed-and-stuck view (docs/console-problems.png). Fails loudly when a
page does not render as expected. Needs Debian's `chromium` package. A script beside the images it makes: it seeds
every app's data, so it is not part of any app.
"""

import argparse
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from docs/: the project's packages are one level up
DEMO_DATABASE_URL = os.environ.get(
    "CONSOLE_DEMO_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/minirag_console_demo"
)
PASSWORD = secrets.token_urlsafe(16)  # demo accounts only; nobody signs in with it


def _environment() -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        DATABASE_URL=DEMO_DATABASE_URL,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        CELERY_TASK_ALWAYS_EAGER="true",
        CELERY_BROKER_URL="",
        REDIS_URL="",
        QDRANT_URL="",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SETTINGS_MODULE="minirag.settings",
    )
    return env


def _recreate_database() -> None:
    import psycopg

    parts = urlsplit(DEMO_DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed_demo() -> dict:
    """A handful of tenants with sources in every state, chats, usage and webhook deliveries."""
    from django.utils import timezone

    from bots.models import BotProfile
    from chat.models import Chat, Message
    from minirag.tenancy import tenant_context
    from sources.models import Source
    from tenants.services import tenant_bootstrap
    from tenants.webhooks.models import Webhook, WebhookDelivery
    from usage.models import UsageEvent

    now = timezone.now()
    plans = [
        ("Acme Corp", "acme", "pro", 9, 2, 1, 0),
        ("Globex", "globex", "pro", 14, 0, 0, 2),
        ("Initech", "initech", "free", 3, 1, 0, 0),
        ("Umbrella Health", "umbrella", "enterprise", 22, 0, 1, 1),
        ("Hooli", "hooli", "free", 1, 0, 0, 0),
    ]
    first = None
    for name, slug, plan, ready, failed, stuck, pending in plans:
        tenant = tenant_bootstrap(
            name=name, slug=slug, owner_email=f"owner@{slug}.example", owner_password=PASSWORD
        ).tenant
        tenant.plan = plan
        tenant.save(update_fields=["plan"])
        first = first or tenant
        with tenant_context(tenant):
            bot = BotProfile.objects.create(name=f"{name} support")
            BotProfile.objects.create(name=f"{name} sales", model="gpt-4o")
            rows = [
                Source(
                    bot_profile=bot,
                    name=f"Handbook chapter {n + 1}",
                    source_type="url",
                    status="ready",
                    config={"url": f"https://docs.{slug}.example/ch{n + 1}"},
                    chunk_count=35 + 7 * n,
                    refresh_schedule="daily",
                    last_refreshed_at=now - timedelta(hours=n + 1),
                )
                for n in range(ready)
            ]
            rows += [
                Source(
                    bot_profile=bot,
                    name=f"Pricing page {n + 1}",
                    source_type="url",
                    status="error",
                    config={"url": f"https://{slug}.example/pricing"},
                    error_message=f"Fetching https://{slug}.example/pricing failed: HTTP 503",
                )
                for n in range(failed)
            ]
            rows += [
                Source(
                    bot_profile=bot,
                    name=f"Product catalogue {n + 1}.pdf",
                    source_type="upload",
                    status="processing",
                    stage="embedding",
                    progress=61,
                    processing_started_at=now - timedelta(hours=3),
                )
                for n in range(stuck)
            ]
            rows += [
                Source(bot_profile=bot, name=f"FAQ draft {n + 1}", source_type="text", content="…")
                for n in range(pending)
            ]
            Source.objects.bulk_create(rows)
            chat = Chat.objects.create(
                bot_profile_id=bot.id,
                title="How do refunds work?",
                message_count=2,
                total_prompt_tokens=812,
                total_completion_tokens=96,
            )
            Message.objects.create(chat=chat, role="user", content="How do refunds work?")
            Message.objects.create(
                chat=chat,
                role="assistant",
                prompt_tokens=812,
                completion_tokens=96,
                content="Refunds are possible within 30 days of purchase [1]. Contact support with your order "
                "number and the refund is issued to the original payment method within 5 business days [2].",
            )
            UsageEvent.objects.bulk_create(
                [
                    UsageEvent(
                        model="gpt-4o-mini",
                        prompt_tokens=700 + 40 * ready,
                        completion_tokens=120,
                        total_tokens=820 + 40 * ready,
                        created_at=now - timedelta(hours=6 * n),
                    )
                    for n in range(20 + 5 * ready)
                ]
            )
            from minirag.encryption import encrypt_text

            hook = Webhook.objects.create(
                url=f"https://hooks.{slug}.example/minirag",
                events=["source.failed", "source.ingested"],
                encrypted_secret=encrypt_text("demo"),
            )
            WebhookDelivery.objects.create(
                webhook=hook,
                delivery_id="00000000-0000-4000-8000-000000000001",
                event="source.ingested",
                attempt=1,
                status_code=200,
                success=True,
                duration_ms=84,
            )
    return {"tenant": first}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server at {url} did not come up") from None
            time.sleep(0.3)


EXPECTED = {
    "console.png": ("/admin/tenants/tenant/", "Tokens 30 d"),
    "console-tenant.png": ("/admin/tenants/tenant/{tenant}/change/", "Tokens, last 30 days"),
    "console-problems.png": ("/admin/sources/source/problems/", "stuck processing"),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()

    from minirag.tests.browser import Browser, chromium_path

    if chromium_path() is None:
        print("chromium is not installed: apt-get install -y chromium", file=sys.stderr)
        return 2
    env = _environment()
    os.environ.update(env)
    _recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from tenants.models import User

    call_command("migrate_schemas", "--shared", verbosity=0)
    demo = seed_demo()
    operator = User.objects.create_superuser(email="ops@minirag.example", password=PASSWORD)
    client = Client()
    client.force_login(operator, backend="tenants.backends.OperatorBackend")
    session = client.cookies["sessionid"].value

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "minirag.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        _wait_for(f"{base}/health")
        with Browser(width=1600, height=900) as browser:
            browser.set_cookie(name="sessionid", value=session, url=base)
            for filename, (path, must_contain) in EXPECTED.items():
                page = browser.capture(base + path.format(tenant=demo["tenant"].pk), full_page=True)
                if must_contain not in page.text or "/admin/login/" in page.url:
                    raise RuntimeError(f"{path} did not render as expected (title {page.title!r})")
                (out / filename).write_bytes(page.png)
                print(f"{out / filename}: {len(page.png) // 1024} KiB  ({page.title})")
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
