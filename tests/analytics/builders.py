"""Hand-built analytics tables (the shape the sync writes), for exact hand-worked tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

M = 1  # the merchant of every hand-built row


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


@dataclass
class Shop:
    orders: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def member(
        self,
        mid: int,
        created: str = "2025-01-01",
        registered: str | None = None,
        stage: str = "customer",
        merchant: int = M,
    ) -> None:
        self.members.append(
            {
                "id": mid,
                "merchant_id": merchant,
                "funnel_stage": stage,
                "created_at": ts(created),
                "created_local": ts(created),
                "registered_at": ts(registered) if registered else None,
                "registered_local": ts(registered) if registered else None,
                "orders_count": 0,
                "updated_at": ts(created),
            }
        )

    def order(
        self,
        member: int | None,
        at: str,
        total: int,
        refunded: int = 0,
        status: str | None = None,
        store: int = 10,
        channel: str = "store",
        merchant: int = M,
    ) -> None:
        if status is None:
            status = (
                "completed"
                if refunded == 0
                else ("refunded" if refunded == total else "partially_refunded")
            )
        self.orders.append(
            {
                "id": len(self.orders) + 1,
                "merchant_id": merchant,
                "member_id": member,
                "store_id": store,
                "channel": channel,
                "status": status,
                "placed_at": ts(at),
                "placed_local": ts(at),
                "total_minor": total,
                "refunded_minor": refunded,
            }
        )

    def move(self, member: int, frm: str | None, to: str, at: str) -> None:
        self.moves.append(
            {
                "id": len(self.moves) + 1,
                "merchant_id": M,
                "member_id": member,
                "from_stage": frm,
                "to_stage": to,
                "moved_at": ts(at),
                "moved_local": ts(at),
            }
        )

    def row(self, table: str, **values: Any) -> None:
        values.setdefault("merchant_id", M)
        self.extra.setdefault(table, []).append(values)

    def frames(self) -> dict[str, pd.DataFrame]:
        out = {
            "orders": _frame(self.orders, ORDERS),
            "members": _frame(self.members, MEMBERS),
            "funnel_transitions": _frame(self.moves, MOVES),
        }
        for name, rows in self.extra.items():
            out[name] = pd.DataFrame(rows)
        return out


ORDERS = {
    "id": "int64",
    "merchant_id": "int64",
    "member_id": "Int64",
    "store_id": "Int64",
    "channel": "string",
    "status": "string",
    "placed_at": "datetime64[us]",
    "placed_local": "datetime64[us]",
    "total_minor": "int64",
    "refunded_minor": "int64",
}
MEMBERS = {
    "id": "int64",
    "merchant_id": "int64",
    "funnel_stage": "string",
    "created_at": "datetime64[us]",
    "created_local": "datetime64[us]",
    "registered_at": "datetime64[us]",
    "registered_local": "datetime64[us]",
    "orders_count": "int64",
    "updated_at": "datetime64[us]",
}
MOVES = {
    "id": "int64",
    "merchant_id": "int64",
    "member_id": "int64",
    "from_stage": "string",
    "to_stage": "string",
    "moved_at": "datetime64[us]",
    "moved_local": "datetime64[us]",
}


def _frame(rows: list[dict[str, Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})
    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)
