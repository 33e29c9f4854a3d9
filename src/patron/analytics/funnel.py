"""Funnel stages (user → customer → member → fan) over time.

Counts come from stage *changes*: each member adds +1 to its initial stage when created, and
each transition moves one person from ``from_stage`` (−1) to ``to_stage`` (+1). The count of a
stage at the end of a period is the running sum of those changes, so no member × period grid is
ever built (ARCHITECTURE §7: a million members × 365 days would not fit).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.analytics.facts import Scope, merchant_table, period_index, period_start

STAGES = ("user", "customer", "member", "fan")


def stage_changes(con: Any, scope: Scope) -> ir.Table:
    """``pidx, stage, change``: net change of each stage's head count per period, all time up
    to the window's end (periods before the window are folded into ``first_index - 1``)."""
    members = merchant_table(con, "members", scope.merchant_id)
    moves = merchant_table(con, "funnel_transitions", scope.merchant_id)
    w = ibis.window(group_by=moves.member_id, order_by=[moves.moved_local, moves.id])
    first_move = (
        moves.mutate(n=ibis.row_number().over(w))
        .filter(lambda t: t.n == 0)
        .select(mover="member_id", first_from="from_stage")
    )
    m = members.left_join(first_move, members.id == first_move.mover)
    # With history, a member started where its first move started (NULL: the move created it).
    initial = m.select(
        at=m.created_local,
        stage=ibis.ifelse(m.mover.notnull(), m.first_from, m.funnel_stage),
        change=ibis.literal(1, "int64"),
    )
    left = moves.select(
        at=moves.moved_local, stage=moves.from_stage, change=ibis.literal(-1, "int64")
    )
    entered = moves.select(
        at=moves.moved_local, stage=moves.to_stage, change=ibis.literal(1, "int64")
    )
    ch = initial.union(left).union(entered)
    ch = ch.filter(ch.stage.notnull() & (ch.at < ibis.literal(scope.end_ts)))
    pidx = period_index(ch.at, scope.period)
    ch = ch.mutate(pidx=ibis.greatest(pidx, ibis.literal(scope.first_index - 1)))
    return ch.group_by(["pidx", "stage"]).aggregate(change=ch.change.sum())


def transitions(con: Any, scope: Scope) -> ir.Table:
    """``pidx, from_stage, to_stage, moves``: stage changes made during each period."""
    t = merchant_table(con, "funnel_transitions", scope.merchant_id)
    t = t.filter(
        (t.moved_local >= ibis.literal(scope.start_ts))
        & (t.moved_local < ibis.literal(scope.end_ts))
    )
    t = t.mutate(
        pidx=period_index(t.moved_local, scope.period), from_stage=t.from_stage.fill_null("")
    )
    return t.group_by(["pidx", "from_stage", "to_stage"]).aggregate(moves=t.count())


def _running_counts(changes: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """``pidx, stage, members`` at the end of each period, from the opening period on."""
    periods = list(range(scope.first_index - 1, scope.last_index + 1))
    stages = sorted(set(STAGES) | {str(s) for s in changes["stage"]})
    grid = pd.MultiIndex.from_product([periods, stages], names=["pidx", "stage"])
    s = changes.set_index(["pidx", "stage"])["change"].reindex(grid, fill_value=0)
    counts = s.groupby(level="stage").cumsum().rename("members").reset_index()
    return counts.astype({"pidx": "int64", "members": "int64"})


def funnel_frames(
    changes: pd.DataFrame, moves: pd.DataFrame, scope: Scope
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage head counts at the end of each period, and conversion between stages per period.

    Conversion s→t in period p = moves s→t during p / head count of s at the start of p.
    """
    full = _running_counts(changes, scope)
    counts = full[full["pidx"] >= scope.first_index].copy()
    counts.insert(0, "period", [period_start(int(i), scope.period) for i in counts["pidx"]])
    counts = counts.drop(columns="pidx").reset_index(drop=True)
    opening = full.assign(pidx=full["pidx"] + 1).rename(
        columns={"stage": "from_stage", "members": "at_start"}
    )
    conv = moves.astype({"pidx": "int64", "moves": "int64"}).merge(
        opening, on=["pidx", "from_stage"], how="left"
    )
    conv["at_start"] = conv["at_start"].fillna(0).astype("int64")
    conv["conversion_rate"] = [
        m / s if s else float("nan") for m, s in zip(conv["moves"], conv["at_start"], strict=True)
    ]
    conv.insert(0, "period", [period_start(int(i), scope.period) for i in conv["pidx"]])
    conv = conv.drop(columns="pidx").sort_values(["period", "from_stage", "to_stage"])
    return counts, conv.reset_index(drop=True)
