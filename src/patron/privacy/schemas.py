"""API shapes of the member's data export and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=300,
        description="why the member is erased (e.g. 'member's request of 2026-12-01'); "
        "kept in the audit record, so write no personal data here",
        examples=["member's request by email of 2026-12-01"],
    )


class ErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    member_id: int
    erased_at: datetime
    actor: str = Field(description="who erased: 'apikey:<id>' or 'staff:<id>'")
    reason: str
    counts: dict[str, int] = Field(
        description="rows deleted or anonymised per table, and messages_cancelled, journeys_exited"
    )


class MemberExport(BaseModel):
    format: str = Field(description="'patron.member-export/1'")
    exported_at: datetime
    merchant: dict[str, Any]
    member: dict[str, Any] = Field(description="the member's row, every column")
    balances: dict[str, int] = Field(description="by asset: points, or minor units of money")
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="every table that names the member (and those below: order lines, "
        "ledger postings, message events, journal entries) → its rows, every column"
    )
