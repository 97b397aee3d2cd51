"""Model prices from LiteLLM's bundled cost map (never fetched: LITELLM_LOCAL_MODEL_COST_MAP=True)."""

import os
from decimal import Decimal
from functools import lru_cache

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Used for models LiteLLM does not know (the reference's "default" row), USD per 1M tokens.
DEFAULT_PROMPT_COST_PER_1M = Decimal("1.0")
DEFAULT_COMPLETION_COST_PER_1M = Decimal("3.0")
FREE_MODELS = {"extractive", "sparse", "local", "search"}  # "search": the usage row of a knowledge search


@lru_cache(maxsize=1)
def _cost_map() -> dict:
    import litellm

    return litellm.model_cost


def price_per_1m(model: str) -> tuple[Decimal, Decimal, bool]:
    """(prompt USD per 1M, completion USD per 1M, known). Unknown models get the default row."""
    if model in FREE_MODELS:
        return Decimal(0), Decimal(0), True
    cost_map = _cost_map()
    entry = cost_map.get(model) or cost_map.get(model.split("/", 1)[-1])
    if not entry:
        return DEFAULT_PROMPT_COST_PER_1M, DEFAULT_COMPLETION_COST_PER_1M, False
    prompt = Decimal(str(entry.get("input_cost_per_token") or 0)) * 1_000_000
    completion = Decimal(str(entry.get("output_cost_per_token") or 0)) * 1_000_000
    return prompt, completion, True


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    prompt_rate, completion_rate, _ = price_per_1m(model)
    return (Decimal(prompt_tokens) * prompt_rate + Decimal(completion_tokens) * completion_rate) / Decimal(1_000_000)


def known_models(*, modes: tuple[str, ...] = ("chat", "embedding")) -> dict[str, tuple[Decimal, Decimal]]:
    """All priced models of the given modes (for /v1/stats/pricing)."""
    result = {}
    for name, entry in _cost_map().items():
        if name == "sample_spec" or entry.get("mode") not in modes:
            continue
        result[name] = price_per_1m(name)[:2]
    return result
