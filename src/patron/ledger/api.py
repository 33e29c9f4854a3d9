"""/api/v1: a member's balances, statement and points lots; adjustments; entries; liability."""

from __future__ import annotations

from fastapi import APIRouter, Response

from patron.core.http import (
    IdempotencyKey,
    Page,
    PageDep,
    PathId,
    SessionDep,
    answer_replay,
    replay_responses,
)
from patron.ledger import queries
from patron.ledger.schemas import (
    AdjustmentIn,
    BalancesOut,
    EntryOut,
    LiabilityOut,
    PointsLotOut,
    PostingOut,
    StatementLineOut,
)
from patron.ledger.service import EntryInfo, adjust_balance
from patron.tenancy.auth import ClerkDep, ManagerDep

router = APIRouter(prefix="/api/v1", tags=["ledger"])


@router.get(
    "/members/{member_id}/balances", response_model=BalancesOut, operation_id="member_balances"
)
def member_balances(member_id: PathId, session: SessionDep, principal: ClerkDep) -> BalancesOut:
    b = queries.member_balances(session, principal.merchant_id, member_id)
    return BalancesOut(**vars(b))


@router.get(
    "/members/{member_id}/statement",
    response_model=Page[StatementLineOut],
    operation_id="member_statement",
)
def member_statement(
    member_id: PathId, session: SessionDep, principal: ClerkDep, page: PageDep
) -> Page[StatementLineOut]:
    lines, cursor = queries.statement(
        session, principal.merchant_id, member_id, limit=page.limit, before=page.cursor
    )
    return Page(items=[StatementLineOut(**vars(line)) for line in lines], next_cursor=cursor)


@router.get(
    "/members/{member_id}/points-lots",
    response_model=Page[PointsLotOut],
    operation_id="member_points_lots",
)
def member_points_lots(
    member_id: PathId, session: SessionDep, principal: ClerkDep, page: PageDep
) -> Page[PointsLotOut]:
    lots, cursor = queries.member_lots(
        session, principal.merchant_id, member_id, limit=page.limit, before=page.cursor
    )
    return Page(items=[PointsLotOut.model_validate(lot) for lot in lots], next_cursor=cursor)


def _entry_out(session: SessionDep, merchant_id: int, entry_id: int) -> EntryOut:
    entry, postings = queries.get_entry(session, merchant_id, entry_id)
    return EntryOut(
        id=entry.id,
        reason_code=entry.reason_code,
        description=entry.description,
        note=entry.note,
        actor=entry.actor,
        object_type=entry.object_type,
        object_id=entry.object_id,
        rule_version=entry.rule_version,
        reverses_entry_id=entry.reverses_entry_id,
        corrects_entry_id=entry.corrects_entry_id,
        occurred_at=entry.occurred_at,
        postings=[PostingOut(**vars(p)) for p in postings],
    )


@router.post(
    "/members/{member_id}/adjustments",
    response_model=EntryOut,
    status_code=201,
    operation_id="adjust_member_balance",
    responses=replay_responses(EntryOut),
)
def adjust_member_balance(
    member_id: PathId,
    body: AdjustmentIn,
    response: Response,
    session: SessionDep,
    principal: ManagerDep,
    idempotency_key: IdempotencyKey,
) -> EntryOut:
    """A manual change of a member's points or stored value, with a reason (manager role).
    ``Idempotency-Key`` is required: a retry does not adjust twice."""
    queries.check_member(session, principal.merchant_id, member_id)
    info = EntryInfo(
        reason_code=body.reason_code,
        description=body.description,
        note=body.note,
        actor=principal.actor,
        object_type="member",
        object_id=str(member_id),
    )
    posted = adjust_balance(
        session,
        principal.merchant_id,
        member_id,
        body.asset,
        body.amount,
        info,
        expires_at=body.expires_at,
        idempotency_key=idempotency_key,
        body={"member_id": member_id, **body.model_dump(mode="json")},
    )
    answer_replay(response, posted.replayed)
    return _entry_out(session, principal.merchant_id, posted.id)


@router.get("/ledger/entries/{entry_id}", response_model=EntryOut, operation_id="get_ledger_entry")
def get_ledger_entry(entry_id: PathId, session: SessionDep, principal: ClerkDep) -> EntryOut:
    return _entry_out(session, principal.merchant_id, entry_id)


@router.get("/ledger/liability", response_model=LiabilityOut, operation_id="ledger_liability")
def ledger_liability(session: SessionDep, principal: ManagerDep) -> LiabilityOut:
    """What the merchant owes its members in points and stored value."""
    found = queries.liability(session, principal.merchant_id)
    return LiabilityOut(
        by_asset=found.by_asset,
        members_in_debt=found.members_in_debt,
        points=found.points,
        stored_value=found.stored_value,
    )
