"""Public-schema models: tenants, their domains, users, API tokens and publishable (bot) keys."""

import hashlib
import re
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

SLUG_PATTERN = re.compile(r"^[a-z0-9\-]+$")
# PostgreSQL identifiers are at most 63 bytes; long slugs are shortened with a hash to stay unique.
_MAX_SCHEMA_NAME = 63


def schema_name_for_slug(slug: str) -> str:
    """Derive the tenant's schema name from its slug ("acme-corp" → "t_acme_corp").

    Slugs never contain "_", so replacing "-" with "_" keeps names unique; the "t_" prefix keeps clear
    of "public", "pg_*" and "information_schema".
    """
    name = "t_" + slug.replace("-", "_")
    if len(name) > _MAX_SCHEMA_NAME:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:12]
        name = f"{name[: _MAX_SCHEMA_NAME - 13]}_{digest}"
    return name


class Tenant(TenantMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, blank=True)
    slug = models.SlugField(max_length=100, unique=True)
    plan = models.CharField(max_length=50, default="free")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # The schema is created by tenants.schema.create_tenant_schema inside the bootstrap transaction.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name or self.slug} ({self.slug})"


class Domain(DomainMixin):
    """Kept for django-tenants; MiniRAG resolves tenants from credentials, not hostnames."""


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class UserManager(BaseUserManager):
    def get_by_natural_key(self, username):
        # Natural keys (createsuperuser, admin login) name platform operators, who have no tenant.
        return self.get(email__iexact=username, tenant__isnull=True)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True, role=Role.OWNER, tenant=None)
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Belongs to one tenant; operators (superusers) belong to none.

    The same email may exist in several tenants, so uniqueness is per tenant (and among operators).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="users")
    email = models.EmailField(max_length=320)
    display_name = models.CharField(max_length=255, blank=True, default="")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the operator console.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint("tenant", models.functions.Lower("email"), name="user_email_unique_per_tenant"),
            models.UniqueConstraint(
                models.functions.Lower("email"),
                condition=Q(tenant__isnull=True),
                name="operator_email_unique",
            ),
        ]
        indexes = [models.Index(models.functions.Lower("email"), name="user_email_lower_idx")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)


def hash_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiToken(models.Model):
    """A long-lived bearer credential. Only the SHA-256 of the raw value is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=255)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=16)
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apitoken_tenant_created_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"


PUBLISHABLE_KEY_PREFIX = "pk_"


class PublishableKey(models.Model):
    """A public credential for one bot, meant for web pages (the widget, the hosted chat page).

    It can only chat with its bot, from the web origins it lists (tenants.credentials resolves it; the API base
    refuses it on every view that does not opt in). Only the SHA-256 of the raw key is stored; the raw key is shown
    once. The bot lives in the tenant's schema, so `bot_profile_id` is a plain UUID (checked when the key is made).
    Deleting its creator deletes the key, as with API tokens: a departed member's credentials all stop.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="publishable_keys")
    bot_profile_id = models.UUIDField(db_index=True)
    name = models.CharField(max_length=255)
    # Normalised "scheme://host[:port]" strings (minirag.api.origins.normalise_origin); MiniRAG's own origin is
    # always allowed on top of these (the hosted chat page).
    allowed_origins = models.JSONField(default=list, blank=True)
    key_prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Unset to revoke the key.")
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="publishable_keys")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="pubkey_tenant_created_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class InviteCode(models.Model):
    """Lets POST /v1/tenants create a tenant when SIGNUP_MODE is "invite".

    Issued by operators (`manage.py invite_code create`, or the console); only the SHA-256 of the code is stored,
    the raw value is shown once. A code serves `max_uses` sign-ups until `expires_at`, unless revoked.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    code_prefix = models.CharField(max_length=16, editable=False)
    note = models.CharField(max_length=255, blank=True, default="", help_text="Who it is for (operators only).")
    max_uses = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Sign-ups this code allows."
    )
    use_count = models.PositiveIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    is_active = models.BooleanField(default=True, help_text="Unset to revoke the code.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(use_count__lte=models.F("max_uses")), name="invite_uses_max")]

    def __str__(self) -> str:
        return f"{self.code_prefix}… ({self.use_count}/{self.max_uses})"

    @property
    def is_usable(self) -> bool:
        return (
            self.is_active
            and self.use_count < self.max_uses
            and (self.expires_at is None or self.expires_at > timezone.now())
        )
