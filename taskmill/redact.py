"""Secrets in configs: find them, mask them for display, drop them from hashes.

A field is a secret when its name looks like one (`api_key`, `token`,
`password`, `secret`, `credentials`, `authorization`...). Secrets are shown as
`***` in every place taskmill writes or prints a config (run-dir
`config.yaml`, the dataset card, `validate`, error messages) and are left out
of the config hash, so rotating a key does not start a new run. Prefer naming
an environment variable (`engine.api_key_env`) over writing the key itself.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# Field names that hold secrets. Anchored: `max_tokens` or `long_token` are counts, not credentials;
# `*_env` fields hold a variable *name*, not a secret.
SECRET_NAME = re.compile(
    r"(^|[_-])(api[_-]?key|secret|client[_-]?secret|passw(or)?d|credentials?|authorization|private[_-]?key)$"
    r"|^(token|hf[_-]?token|access[_-]?token|auth[_-]?token|api[_-]?token|bearer[_-]?token)$",
    re.I,
)
# Placeholders that are not secrets (the OpenAI client's "no key" value).
PLACEHOLDERS = {"", "EMPTY", "none", "None"}
# Values that look like a credential whatever their field is called (HF, OpenAI-style, bearer).
SECRET_VALUE = re.compile(r"\b(hf_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_-]{8,}|Bearer\s+\S{8,})")


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not name.endswith("_env")


def mask_secrets(value: Any, key: str = "") -> Any:
    """A copy of a config tree with every secret value replaced by `***` (placeholders kept)."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if key and is_secret_name(key) and value is not None and str(value) not in PLACEHOLDERS:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    return value


def drop_secrets(value: Any) -> Any:
    """A copy of a config tree without its secret fields (what the config hash is computed over)."""
    if isinstance(value, dict):
        return {k: drop_secrets(v) for k, v in value.items() if not is_secret_name(str(k))}
    if isinstance(value, list):
        return [drop_secrets(v) for v in value]
    return value


def mask_text(text: str) -> str:
    """Mask credential-looking substrings in free text (error messages, logs)."""
    return SECRET_VALUE.sub(MASK, text)
