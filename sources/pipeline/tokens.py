"""The tokenizer used for chunk sizes: tiktoken's cl100k_base, loaded offline.

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
    return len(encoding().encode_ordinary(text))
