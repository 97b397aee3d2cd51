"""The one tokenizer: tiktoken's cl100k_base, loaded offline (chunk sizes, prompt budgets, local usage counts).

The encoding file ships inside LiteLLM (litellm/litellm_core_utils/tokenizers); pointing TIKTOKEN_CACHE_DIR
there before tiktoken loads means no download is ever attempted.
"""

import importlib.util
import os
from functools import lru_cache
from pathlib import Path


def _bundled_cache_dir() -> str | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    return str(folder) if folder.is_dir() else None


@lru_cache(maxsize=1)
def encoding():
    bundled = _bundled_cache_dir()
    if bundled and not os.environ.get("TIKTOKEN_CACHE_DIR"):
        os.environ["TIKTOKEN_CACHE_DIR"] = bundled
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Tokens in `text`; special-token strings count as ordinary text. Does not import LiteLLM (slow)."""
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))
