"""What management commands of every app share about bots."""

from django.core.management.base import CommandError

from bots.models import BotProfile
from bots.selectors import bot_by_name_or_id
from minirag.errors import DomainError


def command_bot(name_or_id: str) -> BotProfile:
    """The active bot named by a command's --bot (id or unique name), or a CommandError saying why not."""
    try:
        return bot_by_name_or_id(name_or_id)
    except DomainError as error:
        raise CommandError(str(error.detail)) from None
