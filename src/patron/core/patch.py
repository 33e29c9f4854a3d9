"""Partial updates: a field left out stays; ``null`` clears only a field that may be empty."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The document says ``null`` only where it clears: a generated client then does not
        offer ``None`` for a field the server refuses it on (ADR 0034)."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, field in cls.model_fields.items():
            prop = target.get("properties", {}).get(field.alias or name)
            if prop is not None and name not in cls.clearable:
                _not_nullable(prop)
        return schema


def _not_nullable(prop: dict[str, Any]) -> None:
    """Drop the ``null`` branch (and the ``null`` default) from a property's schema."""
    if prop.get("default", 0) is None:
        del prop["default"]
    branches = [b for b in prop.get("anyOf", []) if b != {"type": "null"}]
    if not branches or len(branches) == len(prop["anyOf"]):
        return
    del prop["anyOf"]
    if len(branches) == 1:
        prop.update(branches[0])
    else:
        prop["anyOf"] = branches
