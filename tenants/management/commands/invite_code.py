"""Invite codes for POST /v1/tenants when SIGNUP_MODE=invite: create (printed once), list, revoke."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from minirag.errors import DomainError
from tenants.models import InviteCode
from tenants.services import invite_code_create, invite_code_revoke


class Command(BaseCommand):
    help = "Create, list or revoke invite codes for public sign-up (SIGNUP_MODE=invite)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a code; it is printed once and stored hashed")
        create.add_argument("--uses", type=int, default=1, help="Sign-ups the code allows (default 1)")
        create.add_argument(
            "--expires-days", type=float, default=14, help="Days until it expires; 0 = never (default 14)"
        )
        create.add_argument("--note", default="", help="Who it is for (shown to operators only)")
        actions.add_parser("list", help="List codes (prefix, uses, expiry, state)")
        revoke = actions.add_parser("revoke", help="Revoke a code by its prefix (inv_…) or id")
        revoke.add_argument("code", help="The code's prefix as listed, or its id")

    def handle(self, *args, **options):
        return getattr(self, f"_{options['action']}")(options)

    def _create(self, options):
        if options["uses"] < 1:
            raise CommandError("--uses must be at least 1")
        if options["expires_days"] < 0:
            raise CommandError("--expires-days must be 0 (never) or more")
        expires_at = timezone.now() + timedelta(days=options["expires_days"]) if options["expires_days"] else None
        try:
            issued = invite_code_create(max_uses=options["uses"], expires_at=expires_at, note=options["note"])
        except DomainError as error:
            raise CommandError(str(error.detail)) from None
        until = expires_at.isoformat(timespec="minutes") if expires_at else "never"
        self.stdout.write(self.style.SUCCESS(f"Invite code for {options['uses']} sign-up(s), expires {until}:"))
        self.stdout.write(issued.raw_code)
        if settings.SIGNUP_MODE != "invite":
            self.stderr.write(f"Note: SIGNUP_MODE is {settings.SIGNUP_MODE!r}; codes are only asked for in 'invite'.")

    def _list(self, options):
        invites = list(InviteCode.objects.order_by("-created_at")[:500])
        if not invites:
            self.stdout.write("No invite codes.")
            return
        for invite in invites:
            state = "usable" if invite.is_usable else ("revoked" if not invite.is_active else "spent or expired")
            expires = invite.expires_at.isoformat(timespec="minutes") if invite.expires_at else "never"
            self.stdout.write(
                f"{invite.code_prefix}…  {invite.use_count}/{invite.max_uses} used  expires {expires}  {state}"
                f"{'  ' + invite.note if invite.note else ''}"
            )

    def _revoke(self, options):
        value = options["code"].rstrip("…").strip()
        query = Q(code_prefix=value)
        try:
            query |= Q(pk=uuid.UUID(value))
        except ValueError:
            pass
        matches = list(InviteCode.objects.filter(query)[:2])
        if not matches:
            raise CommandError(f"No invite code {value!r}")
        if len(matches) > 1:
            raise CommandError(f"{value!r} matches several codes; use the id")
        invite_code_revoke(invite=matches[0])
        self.stdout.write(self.style.SUCCESS(f"Revoked {matches[0].code_prefix}…"))
