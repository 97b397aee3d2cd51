"""The hosted chat page's read: which bot a publishable key id opens (the key in the public schema, then its bot in
the tenant's schema)."""

import uuid
from dataclasses import dataclass

from bots.selectors import bot_get
from minirag.errors import NotFound
from minirag.tenancy import tenant_context
from tenants.publishable_keys import publishable_key_for_page


@dataclass(frozen=True)
class HostedChat:
    key_id: uuid.UUID
    bot_id: uuid.UUID
    bot_name: str
    allowed_origins: tuple[str, ...]  # normalised origins (minirag.api.origins), checked again before a CSP header


def hosted_chat_get(*, key_id: str) -> HostedChat | None:
    """The page behind `/c/<key_id>`, or None when its key could not chat right now: unknown or malformed id, key
    paused, tenant or creator deactivated (the credential check would refuse it too), or its bot inactive or gone."""
    key = publishable_key_for_page(key_id=key_id)
    if key is None:
        return None
    with tenant_context(key.tenant):
        try:
            bot = bot_get(bot_id=key.bot_profile_id, active_only=True)
        except NotFound:
            return None
    return HostedChat(
        key_id=key.id,
        bot_id=bot.id,
        bot_name=bot.name,
        allowed_origins=tuple(str(origin) for origin in key.allowed_origins or ()),
    )
