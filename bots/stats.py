"""What the bots app counts for statistics and quotas: active bots, and the names that per-bot rows of the usage
and feedback statistics show. The `bots` quota counter is registered with usage from BotsConfig.ready()."""

from collections.abc import Iterable, Sequence

from bots.models import BotProfile


def active_bot_count() -> int:
    """Active bot profiles (soft-deleted ones excluded)."""
    return BotProfile.objects.filter(is_active=True).count()


def bots_quota_usage(quotas: Sequence[str]) -> dict[str, int]:
    """usage's size counter for the `bots` quota: active bot profiles, one query."""
    return {"bots": active_bot_count()} if "bots" in quotas else {}


def bot_names(bot_ids: Iterable) -> dict[str, str]:
    """{str(bot id): name} for the given ids (deleted bots included; unknown ids left out): one query, none for
    no ids."""
    ids = {str(bot_id) for bot_id in bot_ids if bot_id is not None}
    if not ids:
        return {}
    return {str(pk): name for pk, name in BotProfile.objects.filter(pk__in=ids).values_list("id", "name")}


def with_bot_names(rows: Sequence[dict], *, key: str = "bot_profile_id") -> list[dict]:
    """The rows, each with "bot_name" (None for an unknown bot) right after its `key` column: one query."""
    names = bot_names(row[key] for row in rows)
    named = []
    for row in rows:
        out: dict = {}
        for column, value in row.items():
            out[column] = value
            if column == key:
                out["bot_name"] = names.get(str(value)) if value is not None else None
        named.append(out)
    return named
