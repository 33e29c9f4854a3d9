"""Partial updates: a field left out stays; ``null`` clears only a field that may be empty."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ValidationInfo, field_validator

# The refusal's words (the dashboard's forms show "This is needed." for them).
NULL_REFUSED = "cannot be empty: leave the field out to keep its value"


class Patch(BaseModel):
    """Base of every PATCH body. ``clearable`` names the fields that ``null`` empties; ``null``
    on any other field is a 422 naming it (before, the database refused it with a 500)."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _null_only_where_it_clears(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError(NULL_REFUSED)
        return value
