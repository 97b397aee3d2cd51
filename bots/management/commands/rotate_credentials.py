"""Re-encrypt every secret at rest (bot credentials, webhook secrets) under the newest ENCRYPTION_KEYS entry."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from bots.services import bot_credentials_rotate
from minirag.encryption import DecryptionError
from minirag.tenancy import tenant_context, tenants_all
from tenants.webhooks.services import webhook_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt all bot credentials and webhook secrets with the first (newest) key in ENCRYPTION_KEYS. "
        "Rotation: prepend a new key, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        bots = webhooks = 0
        failed: list[str] = []
        tenants = list(tenants_all())
        for tenant in tqdm(tenants, desc="Tenants", unit="tenant", file=self.stderr._out, disable=not tenants):
            with tenant_context(tenant):
                try:
                    # One transaction per tenant: its secrets rotate all together or not at all.
                    with transaction.atomic():
                        bot_count = bot_credentials_rotate()
                        webhook_count = webhook_secrets_rotate()
                except DecryptionError:
                    failed.append(tenant.slug)
                    continue
            bots += bot_count
            webhooks += webhook_count
            self.stdout.write(f"{tenant.slug}: re-encrypted {bot_count} bot profile(s), {webhook_count} webhook(s)")
        if failed:
            raise CommandError(
                f"No configured key could decrypt secrets in: {', '.join(failed)}. "
                "Keep the old key in ENCRYPTION_KEYS until rotation succeeds."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {bots} bot profile(s) and {webhooks} webhook secret(s) under the newest key."
            )
        )
