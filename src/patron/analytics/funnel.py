"""Funnel stages (user → customer → member → fan) over time, and conversion between them.

Every member's history is a chain of *stage events*: the stage it started in, then the
``to_stage`` of each transition, in time order. Its stage at time T is the stage of its last
event before T. Head counts come from the changes along each member's own chain (+1 to the
stage entered, −1 to the stage it held before), so the count of a stage at the end of a
period is a running sum and no member × period grid is ever built (ARCHITECTURE §7: a million
members × 365 days would not fit).

Conversion s → t in period p (ADR 0504): of the members whose stage at the start of p was s,
the share whose stage at the end of p was t or further along the funnel. Both counts come from
the same chains, so a rate is always within 0–100%.
"""

from __future__ import annotations

import itertools
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.analytics.facts import Scope, merchant_table, period_index, period_start

STAGES = ("user", "customer", "member", "fan")
RANK = {stage: i for i, stage in enumerate(STAGES)}
# The steps the pages show: each stage to the next one.
STEPS = tuple(itertools.pairwise(STAGES))


def stage_events(con: Any, scope: Scope) -> ir.Table:
    """``member_id, at, seq, stage, prev_stage``: the member is in ``stage`` from ``at`` on.

    The first event is the stage the member started in: its first transition's
    ``from_stage`` (a transition from nothing creates the member: no such event), or its
    current ``funnel_stage`` when it never moved; it is dated at creation, or at the first
    transition when that is earlier (an imported history dated before the import).
    ``prev_stage`` is the stage of the member's previous event (NULL for the first).
    """
    members = merchant_table(con, "members", scope.merchant_id)
    moves = merchant_table(con, "funnel_transitions", scope.merchant_id)
    w = ibis.window(group_by=moves.member_id, order_by=[moves.moved_local, moves.id])
    first_move = (
        moves.mutate(n=ibis.row_number().over(w))
        .filter(lambda t: t.n == 0)
        .select(mover="member_id", first_from="from_stage", first_at="moved_local")
    )
    m = members.left_join(first_move, members.id == first_move.mover)
    started = m.select(
        member_id=m.id,
        at=ibis.ifelse(
            m.first_at.notnull() & (m.first_at < m.created_local), m.first_at, m.created_local
        ),
        # Sorts before every transition made at the same instant (ids start at 1).
        seq=ibis.literal(0, "int64"),
        stage=ibis.ifelse(m.mover.notnull(), m.first_from, m.funnel_stage),
    )
    started = started.filter(started.stage.notnull())
    moved = moves.select(
        member_id=moves.member_id,
        at=moves.moved_local,
        seq=moves.id.cast("int64"),
        stage=moves.to_stage,
    )
    ev = started.union(moved)
    ev = ev.filter(ev.at < ibis.literal(scope.end_ts))
    chain = ibis.window(group_by=ev.member_id, order_by=[ev.at, ev.seq])
    return ev.mutate(prev_stage=ev.stage.lag().over(chain))


def stage_changes(con: Any, scope: Scope) -> ir.Table:
    """``pidx, stage, change``: net change of each stage's head count per period, all time up
    to the window's end (periods before the window are folded into ``first_index - 1``)."""
    ev = stage_events(con, scope)
    entered = ev.select("at", "stage", change=ibis.literal(1, "int64"))
    left = ev.filter(ev.prev_stage.notnull()).select(
        "at", stage=ev.prev_stage, change=ibis.literal(-1, "int64")
    )
    ch = entered.union(left)
    pidx = period_index(ch.at, scope.period)
    ch = ch.mutate(pidx=ibis.greatest(pidx, ibis.literal(scope.first_index - 1)))
    return ch.group_by(["pidx", "stage"]).aggregate(change=ch.change.sum())


def stage_progress(con: Any, scope: Scope) -> ir.Table:
    """``pidx, start_stage, end_rank, members``: members that changed stage during a period of
    the window, by their stage at the period's start and the funnel rank (0 user … 3 fan) of
    their stage at its end. Members created during the period are not counted (they were in
    no stage at its start)."""
    ev = stage_events(con, scope)
    ev = ev.filter(ev.at >= ibis.literal(scope.start_ts))
    ev = ev.mutate(pidx=period_index(ev.at, scope.period))
    by = [ev.member_id, ev.pidx]
    first = ibis.row_number().over(ibis.window(group_by=by, order_by=[ev.at, ev.seq]))
    last = ibis.row_number().over(
        ibis.window(group_by=by, order_by=[ibis.desc(ev.at), ibis.desc(ev.seq)])
    )
    ev = ev.mutate(first=first, last=last)
    opened = ev.filter(ev.first == 0).select("member_id", "pidx", start_stage="prev_stage")
    closed = ev.filter(ev.last == 0).select(
        end_member="member_id",
        end_pidx="pidx",
        end_rank=ev.stage.substitute(RANK, else_=-1).cast("int64"),
    )
    j = opened.join(
        closed, (opened.member_id == closed.end_member) & (opened.pidx == closed.end_pidx)
    )
    j = j.filter(j.start_stage.notnull())
    return j.group_by(["pidx", "start_stage", "end_rank"]).aggregate(members=j.count())


def _running_counts(changes: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """``pidx, stage, members`` at the end of each period, from the opening period on."""
    periods = list(range(scope.first_index - 1, scope.last_index + 1))
    stages = sorted(set(STAGES) | {str(s) for s in changes["stage"]})
    grid = pd.MultiIndex.from_product([periods, stages], names=["pidx", "stage"])
    s = changes.set_index(["pidx", "stage"])["change"].reindex(grid, fill_value=0)
    counts = s.groupby(level="stage").cumsum().rename("members").reset_index()
    return counts.astype({"pidx": "int64", "members": "int64"})


def funnel_frames(
    changes: pd.DataFrame, progress: pd.DataFrame, scope: Scope
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage head counts at the end of each period, and conversion per step and period.

    ``conversion``: ``period, from_stage, to_stage, at_start, converted, conversion_rate`` —
    ``at_start`` members in ``from_stage`` when the period opened, ``converted`` of them in
    ``to_stage`` or further along when it closed; the rate is NaN when ``at_start`` is 0.
    """
    full = _running_counts(changes, scope)
    counts = full[full["pidx"] >= scope.first_index].copy()
    counts.insert(0, "period", [period_start(int(i), scope.period) for i in counts["pidx"]])
    counts = counts.drop(columns="pidx").reset_index(drop=True)
    opening = full.set_index(["pidx", "stage"])["members"]
    rows = []
    for pidx in range(scope.first_index, scope.last_index + 1):
        moved = progress[progress["pidx"] == pidx]
        for frm, to in STEPS:
            at_start = int(opening.get((pidx - 1, frm), 0))
            mine = moved[(moved["start_stage"] == frm) & (moved["end_rank"] >= RANK[to])]
            converted = int(mine["members"].sum())
            rows.append(
                {
                    "period": period_start(pidx, scope.period),
                    "from_stage": frm,
                    "to_stage": to,
                    "at_start": at_start,
                    "converted": converted,
                    "conversion_rate": converted / at_start if at_start else float("nan"),
                }
            )
    return counts, pd.DataFrame(rows, columns=CONVERSION_COLUMNS)


CONVERSION_COLUMNS = [
    "period",
    "from_stage",
    "to_stage",
    "at_start",
    "converted",
    "conversion_rate",
]
