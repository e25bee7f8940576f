"""Config sections that a bare `true`/`false` switches on or off (`roundtrip: false`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator


class Switchable(BaseModel):
    """A section with an `enabled` field; `section: false` (or true) is short for `{enabled: false}`."""

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value
