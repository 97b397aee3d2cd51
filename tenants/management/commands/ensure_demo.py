"""Create the demo tenant once (idempotent). Used by `make run`."""

import secrets
from pathlib import Path

from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import tenant_bootstrap

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo tenant, owner and API token if missing; print the token once."

    def add_arguments(self, parser):
        parser.add_argument("--token-file", help="Also save the raw token (and password) here, mode 600")

    def handle(self, *args, **options):
        token_file = Path(options["token_file"]) if options.get("token_file") else None
        if Tenant.objects.filter(slug=DEMO_SLUG).exists():
            where = f" and saved in {token_file}" if token_file and token_file.exists() else ""
            self.stdout.write(f"Demo tenant '{DEMO_SLUG}' exists; its API token was printed on first run{where}.")
            return
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
