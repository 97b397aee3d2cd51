"""`manage.py initialize`: make an installation ready to serve, idempotently.

1. Apply what is unapplied (`minirag.startup.migrate_pending`: the public schema, then only the tenant schemas
   that miss a migration).
2. Create the first operator, who signs in to the console at /admin/, from MINIRAG_ADMIN_EMAIL and
   MINIRAG_ADMIN_PASSWORD. An operator with that email is left as it is: its password is never reset.
3. Optionally create a first tenant from MINIRAG_FIRST_TENANT_SLUG (with _NAME, _OWNER_EMAIL, _OWNER_PASSWORD;
   the owner defaults to the operator's email and password) and its API token: MINIRAG_FIRST_TENANT_TOKEN when
   set (registered if missing, so the token in .env always works), else a generated one printed once.

Docker Compose's one-shot `init` service runs it before web, worker and beat start; running it again changes
nothing that exists. Every variable is described in .env.example ("First start").
"""

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from minirag.errors import DomainError
from minirag.startup import migrate_pending
from tenants.management.commands.bootstrap_tenant import _error_text as error_text
from tenants.models import ApiToken, Role, Tenant, User, hash_token
from tenants.passwords import check_password_policy
from tenants.services import api_token_create, check_chosen_token, tenant_bootstrap


def _variable(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


class Command(BaseCommand):
    help = (
        "Apply pending migrations, then create the first operator and optionally a first tenant with its API "
        "token from MINIRAG_ADMIN_* and MINIRAG_FIRST_TENANT_* (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--skip-migrations", action="store_true", help="Only the operator and the tenant")

    def handle(self, *args, **options):
        if not options["skip_migrations"]:
            result = migrate_pending(log=self.stdout.write)
            self.stdout.write(
                f"Migrations up to date ({len(result['public_migrations'])} public migration(s) and "
                f"{len(result['tenant_schemas_migrated'])} tenant schema(s) migrated now)."
            )
        try:
            operator_email = self._ensure_operator()
            self._ensure_first_tenant(operator_email)
        except DomainError as error:
            raise CommandError(error_text(error)) from None

    def _ensure_operator(self) -> str:
        email, password = _variable("MINIRAG_ADMIN_EMAIL"), _variable("MINIRAG_ADMIN_PASSWORD")
        if not email and not password:
            self.stdout.write("No MINIRAG_ADMIN_EMAIL: no operator created (manage.py createsuperuser makes one).")
            return ""
        if not email or not password:
            raise CommandError("Set both MINIRAG_ADMIN_EMAIL and MINIRAG_ADMIN_PASSWORD, or neither.")
        _check_email(email, "MINIRAG_ADMIN_EMAIL")
        if User.objects.filter(tenant__isnull=True, email__iexact=email).exists():
            self.stdout.write(f"Operator {email} exists (its password is left as it is).")
            return email
        check_password_policy(password, field="MINIRAG_ADMIN_PASSWORD")
        User.objects.create_superuser(email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Operator {email} created: sign in at /admin/ with MINIRAG_ADMIN_*."))
        return email

    def _ensure_first_tenant(self, operator_email: str) -> None:
        slug = _variable("MINIRAG_FIRST_TENANT_SLUG")
        if not slug:
            return
        raw_token = _variable("MINIRAG_FIRST_TENANT_TOKEN") or None
        if raw_token is not None:
            check_chosen_token(raw_token)
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            owner_email = _variable("MINIRAG_FIRST_TENANT_OWNER_EMAIL", operator_email)
            owner_password = _variable("MINIRAG_FIRST_TENANT_OWNER_PASSWORD", _variable("MINIRAG_ADMIN_PASSWORD"))
            if not owner_email or not owner_password:
                raise CommandError(
                    "MINIRAG_FIRST_TENANT_SLUG needs an owner: set MINIRAG_FIRST_TENANT_OWNER_EMAIL and "
                    "MINIRAG_FIRST_TENANT_OWNER_PASSWORD (or MINIRAG_ADMIN_EMAIL and MINIRAG_ADMIN_PASSWORD)."
                )
            _check_email(owner_email, "MINIRAG_FIRST_TENANT_OWNER_EMAIL")
            result = tenant_bootstrap(
                name=_variable("MINIRAG_FIRST_TENANT_NAME", slug),
                slug=slug,
                owner_email=owner_email,
                owner_password=owner_password,
                api_token=raw_token,
            )
            self.stdout.write(self.style.SUCCESS(f"Tenant '{slug}' created; owner {owner_email}."))
            self._announce_token(result.api_token.raw_token, chosen=raw_token is not None)
            return
        self.stdout.write(f"Tenant '{slug}' exists.")
        if raw_token is None:
            return
        existing = ApiToken.objects.filter(token_hash=hash_token(raw_token)).first()
        if existing is not None:
            if existing.tenant_id != tenant.pk:
                raise CommandError("MINIRAG_FIRST_TENANT_TOKEN belongs to another tenant; choose another token.")
            if not existing.is_active:
                self.stdout.write(self.style.WARNING("MINIRAG_FIRST_TENANT_TOKEN was revoked; it stays revoked."))
            return
        owner = User.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True).order_by("created_at", "id").first()
        if owner is None:
            raise CommandError(f"Tenant '{slug}' has no active owner to hold MINIRAG_FIRST_TENANT_TOKEN.")
        issued = api_token_create(user=owner, name="first token", raw_token=raw_token)
        self._announce_token(issued.raw_token, chosen=True)

    def _announce_token(self, raw_token: str, *, chosen: bool) -> None:
        if chosen:
            self.stdout.write("Its API token is MINIRAG_FIRST_TENANT_TOKEN from the environment.")
            return
        self.stdout.write("API token (shown once, store it now; or set MINIRAG_FIRST_TENANT_TOKEN next time):")
        self.stdout.write(raw_token)


def _check_email(email: str, variable: str) -> None:
    try:
        validate_email(email)
    except ValidationError:
        raise CommandError(f"{variable} is not a valid email address: {email!r}") from None
