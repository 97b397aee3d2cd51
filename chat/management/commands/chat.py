"""Interactive terminal chat with a bot: tokens stream as they arrive, cited sources are listed after each answer.

    python manage.py chat --tenant demo --bot "Demo bot"          # new chat
    python manage.py chat --tenant demo --bot <uuid> --chat <uuid>  # continue one

Type /quit (or Ctrl-D) to leave. Ctrl-C during an answer stops it; what was generated is kept (incomplete).
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from bots.management.lookup import command_bot
from chat import selectors, services
from minirag.errors import DomainError
from minirag.tenancy import tenant_context
from tenants.models import Role, Tenant, User


class Command(BaseCommand):
    help = "Chat with a bot in the terminal (streams tokens, lists cited sources)."
    stealth_options = ("stdin",)  # tests pass their own input

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--bot", required=True, help="Bot name or id")
        parser.add_argument("--chat", help="Continue this chat id")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None or tenant.schema_name == "public":
            raise CommandError(f"No tenant with slug {options['tenant']!r}")
        owner = User.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True).order_by("created_at").first()
        stdin = options.get("stdin") or sys.stdin
        with tenant_context(tenant):
            bot = command_bot(options["bot"])
            chat_id = options.get("chat")
            if chat_id:
                try:
                    selectors.chat_get(chat_id=chat_id, bot_profile_id=bot.id)
                except DomainError as error:
                    raise CommandError(str(error.detail)) from None
            self.stdout.write(f"Chatting with {bot.name} ({bot.model}). Type /quit to leave.\n")
            while True:
                self.stdout.write("you> ", ending="")
                self.stdout.flush()
                line = stdin.readline()
                if not line:
                    self.stdout.write("\n")
                    return
                message = line.strip()
                if not message:
                    continue
                if message in ("/quit", "/exit"):
                    return
                chat_id = self._turn(tenant, bot, message, chat_id, owner.id if owner else None) or chat_id

    def _turn(self, tenant, bot, message: str, chat_id, user_id) -> str | None:
        try:
            turn = services.chat_turn_start(
                tenant=tenant, bot_id=bot.id, message=message, chat_id=chat_id, user_id=user_id
            )
        except DomainError as error:
            self.stderr.write(f"error: {error.detail}")
            return None
        events = services.turn_stream(turn)
        sources: list[dict] = []
        self.stdout.write("bot> ", ending="")
        try:
            for name, data in events:
                if name == "sources":
                    sources = data["sources"]
                elif name == "delta":
                    self.stdout.write(data["content"], ending="")
                    self.stdout.flush()
                elif name == "error":
                    self.stdout.write("")
                    self.stderr.write(f"error: {data['detail']}")
                elif name == "done":
                    usage = data["usage"]
                    self.stdout.write("")
                    self.stdout.write(
                        self.style.HTTP_INFO(
                            f"  ({usage['model']}: {usage['prompt_tokens']} prompt + "
                            f"{usage['completion_tokens']} completion tokens)"
                        )
                    )
        except KeyboardInterrupt:
            events.close()  # keeps the partial answer, marked incomplete
            self.stdout.write("\n[stopped]")
        if sources:
            self.stdout.write("Sources:")
            for number, source in enumerate(sources, 1):
                page = f", page {source['page']}" if source.get("page") else ""
                self.stdout.write(f"  [{number}] {source['source_name']}{page} (score {source['score']})")
        return str(turn.chat.id)
