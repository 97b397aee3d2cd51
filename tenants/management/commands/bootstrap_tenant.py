"""Create a tenant with its schema, an owner and an API token (the same service as POST /v1/tenants)."""

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from minirag.errors import DomainError
from tenants.passwords import check_password_policy
from tenants.services import tenant_bootstrap


def _error_text(error: DomainError) -> str:
    if isinstance(error.detail, list):
        return "; ".join(item.get("msg", str(item)) if isinstance(item, dict) else str(item) for item in error.detail)
    return str(error.detail)


class Command(BaseCommand):
    help = "Create a tenant (own PostgreSQL schema), its owner and a first API token, printed once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Display name of the tenant")
        parser.add_argument("--slug", required=True, help="Unique slug: lowercase letters, digits and '-'")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", help="Prompted for (twice) when omitted")
        parser.add_argument("--owner-display-name", default="")

    def handle(self, *args, **options):
        try:
            validate_email(options["owner_email"])
        except ValidationError:
            raise CommandError(f"Not a valid email address: {options['owner_email']!r}") from None
        password = options["owner_password"]
        if password is None:
            password = self._prompt_password()
        try:
            check_password_policy(password)
            result = tenant_bootstrap(
                name=options["name"],
                slug=options["slug"],
                owner_email=options["owner_email"],
                owner_password=password,
                owner_display_name=options["owner_display_name"],
            )
        except DomainError as error:
            raise CommandError(_error_text(error)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant {result.tenant.slug!r} (schema {result.tenant.schema_name})")
        )
        self.stdout.write(f"Owner: {result.owner.email}")
        self.stdout.write("API token (shown once, store it now):")
        self.stdout.write(result.api_token.raw_token)

    def _prompt_password(self) -> str:
        for _ in range(3):
            first = getpass.getpass("Owner password: ")
            try:
                check_password_policy(first)
            except DomainError as error:
                self.stderr.write(_error_text(error))
                continue
            if getpass.getpass("Owner password (again): ") != first:
                self.stderr.write("Passwords do not match.")
                continue
            return first
        raise CommandError("No acceptable password given.")
