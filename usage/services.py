"""Recording usage. Every LLM or embedding call goes through `usage_record`."""

from uuid import UUID

from minirag.integrations.pricing import cost_usd
from usage.models import UsageEvent, UsageKind


def usage_record(
    *,
    kind: str = UsageKind.CHAT,
    model: str,
    prompt_tokens: int,
    completion_tokens: int = 0,
    bot_profile_id: UUID | None = None,
    chat_id: UUID | None = None,
    message_id: UUID | None = None,
    source_id: UUID | None = None,
    latency_ms: int | None = None,
    time_to_first_token_ms: int | None = None,
    stream_duration_ms: int | None = None,
    is_stream: bool = False,
) -> UsageEvent:
    """Store one call's tokens and its USD cost (LiteLLM cost map) in the current tenant schema."""
    return UsageEvent.objects.create(
        kind=kind,
        model=model,
        bot_profile_id=bot_profile_id,
        chat_id=chat_id,
        message_id=message_id,
        source_id=source_id,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        cost_usd=cost_usd(model, prompt_tokens, completion_tokens),
        latency_ms=latency_ms,
        time_to_first_token_ms=time_to_first_token_ms,
        stream_duration_ms=stream_duration_ms,
        is_stream=is_stream,
    )
