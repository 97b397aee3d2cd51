"""Re-encrypt every tenant's bot credentials under the newest ENCRYPTION_KEYS entry."""

from django.core.management.base import BaseCommand, CommandError

from bots.services import bot_credentials_rotate
from minirag.encryption import DecryptionError
from minirag.tenancy import tenant_context
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Re-encrypt all bot credentials with the first (newest) key in ENCRYPTION_KEYS. "
        "Rotation: prepend a new key, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        total = 0
        failed: list[str] = []
        for tenant in Tenant.objects.exclude(schema_name="public").order_by("slug"):
            with tenant_context(tenant):
                try:
                    count = bot_credentials_rotate()
                except DecryptionError:
                    failed.append(tenant.slug)
                    continue
            total += count
            self.stdout.write(f"{tenant.slug}: re-encrypted {count} bot profile(s)")
        if failed:
            raise CommandError(
                f"No configured key could decrypt credentials in: {', '.join(failed)} (nothing changed there). "
                "Keep the old key in ENCRYPTION_KEYS until rotation succeeds."
            )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} bot profile(s) under the newest key."))
