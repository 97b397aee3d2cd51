"""Create the demo tenant once (idempotent), with a demo bot and an ingested demo source. Used by `make run`."""

import secrets
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from chat.demo import demo_bot_ensure
from minirag.launcher import shown_path
from tenants.models import Tenant
from tenants.services import tenant_bootstrap

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo tenant, owner, API token, demo bot and demo source if missing; print the token once."

    def add_arguments(self, parser):
        parser.add_argument("--token-file", help="Also save the raw token (and password) here, mode 600")

    def handle(self, *args, **options):
        token_file = Path(options["token_file"]) if options.get("token_file") else None
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is not None:
            where = f" and saved in {token_file}" if token_file and token_file.exists() else ""
            self.stdout.write(f"Demo tenant '{DEMO_SLUG}' exists; its API token was printed on first run{where}.")
        else:
            tenant = self._create_tenant(token_file)
        self._ensure_bot(tenant)

    def _create_tenant(self, token_file: Path | None) -> Tenant:
        password = secrets.token_urlsafe(12)
        result = tenant_bootstrap(
            name="Demo",
            slug=DEMO_SLUG,
            owner_email=DEMO_EMAIL,
            owner_password=password,
            owner_display_name="Demo owner",
        )
        raw = result.api_token.raw_token
        lines = [
            f"Demo tenant '{DEMO_SLUG}' created.",
            f"  owner login: {DEMO_EMAIL} / {password}",
            f"  API token:   {raw}",
        ]
        if token_file:
            token_file.parent.mkdir(parents=True, exist_ok=True)
            token_file.write_text(f"MINIRAG_TOKEN={raw}\nDEMO_EMAIL={DEMO_EMAIL}\nDEMO_PASSWORD={password}\n")
            token_file.chmod(0o600)
            lines.append(f"  (saved in {token_file})")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
        return result.tenant

    def _ensure_bot(self, tenant: Tenant) -> None:
        demo = demo_bot_ensure(tenant=tenant)
        state = "created" if demo.created else "exists"
        sources = ", ".join(f"'{source.name}' {source.status}" for source in demo.sources)
        self.stdout.write(
            f"Demo bot '{demo.bot.name}' {state}: id {demo.bot.id}, model {demo.bot.model}; sources: {sources}."
        )
        if demo.hint:
            self.stdout.write(self.style.WARNING(demo.hint))
        # $MINIRAG and $MINIRAG_TOKEN: the export line of make run's banner (the real port and token).
        self.stdout.write(
            '  Try it:  curl -s $MINIRAG/v1/chat -H "Authorization: Bearer $MINIRAG_TOKEN" '
            "-H 'Content-Type: application/json' "
            f'-d \'{{"bot_profile_id": "{demo.bot.id}", "message": "How do I stream answers?"}}\'\n'
            f"  or:      {shown_path(sys.executable)} manage.py chat --tenant {tenant.slug} --bot '{demo.bot.name}'"
        )
