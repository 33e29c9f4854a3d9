"""/api/v1: program settings (versioned), member tiers, top-ups, stored value statements."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.http import (
    IdempotencyKey,
    PathId,
    QueryId,
    SessionDep,
    answer_replay,
    replay_responses,
)
from patron.ledger import queries
from patron.programs import rules, segment_fields, stored_value, tiers
from patron.programs.config import Kind
from patron.programs.schemas import (
    MemberTierOut,
    RuleIn,
    RuleOut,
    StoredValueLineOut,
    StoredValueStatementOut,
    TierBenefitsOut,
    TierChangeOut,
    TopUpIn,
    TopUpOut,
)
from patron.tenancy.auth import ClerkDep, ManagerDep

router = APIRouter(prefix="/api/v1", tags=["programs"])
# Importing segment_fields registers tier / points_balance / … for segment rules.
_FIELDS = segment_fields.NAMES


@router.get("/programs/{kind}", response_model=RuleOut, operation_id="get_program_rule")
def get_program_rule(kind: Kind, session: SessionDep, principal: ClerkDep) -> RuleOut:
    """The setting in force now."""
    return RuleOut.model_validate(rules.current_rule(session, principal.merchant_id, kind))


@router.put("/programs/{kind}", response_model=RuleOut, operation_id="put_program_rule")
def put_program_rule(
    kind: Kind, body: RuleIn, session: SessionDep, principal: ManagerDep
) -> RuleOut:
    """A new version of the setting, in force from ``effective_from`` (default now)."""
    row = rules.put_rule(
        session, principal.merchant_id, kind, body.config, principal.actor, body.effective_from
    )
    return RuleOut.model_validate(row)


@router.get(
    "/programs/{kind}/versions", response_model=list[RuleOut], operation_id="program_versions"
)
def program_versions(kind: Kind, session: SessionDep, principal: ClerkDep) -> list[RuleOut]:
    return [RuleOut.model_validate(r) for r in rules.versions(session, principal.merchant_id, kind)]


def _tier_out(session: Session, merchant_id: int, member_id: int) -> MemberTierOut:
    queries.check_member(session, merchant_id, member_id)
    rule = rules.tiers_rule(session, merchant_id, utcnow(session))
    row = tiers.member_tier(session, merchant_id, member_id)
    history = [
        TierChangeOut.model_validate(c) for c in tiers.tier_history(session, merchant_id, member_id)
    ]
    if rule is None:
        return MemberTierOut(
            member_id=member_id,
            tier_code=None,
            tier_name=None,
            kept_until_evaluation=None,
            since=None,
            growth_in_window=0,
            next_tier_code=None,
            growth_to_next=None,
            history=history,
        )
    cfg = rule.config
    growth = tiers.window_growth(session, rule, merchant_id, member_id)
    current = tiers.tier_of(cfg, row.tier_code if row else None)
    higher = [t for t in cfg.tiers if t.threshold > current.threshold]
    nxt = higher[0] if higher else None
    return MemberTierOut(
        member_id=member_id,
        tier_code=current.code,
        tier_name=current.name,
        benefits=TierBenefitsOut(
            discount_percent=current.discount_percent,
            points_multiplier=current.points_multiplier,
            birthday_gift=current.birthday_gift,
            free_shipping=current.free_shipping,
        ),
        kept_until_evaluation=row.floor_code if row else None,
        since=row.since if row else None,
        growth_in_window=growth,
        next_tier_code=nxt.code if nxt else None,
        growth_to_next=max(0, nxt.threshold - growth) if nxt else None,
        history=history,
    )


@router.get("/members/{member_id}/tier", response_model=MemberTierOut, operation_id="member_tier")
def member_tier(member_id: PathId, session: SessionDep, principal: ClerkDep) -> MemberTierOut:
    """The member's tier, growth toward the next one, and tier history."""
    return _tier_out(session, principal.merchant_id, member_id)


@router.post(
    "/members/{member_id}/top-ups",
    response_model=TopUpOut,
    status_code=201,
    operation_id="top_up",
    responses=replay_responses(TopUpOut),
)
def top_up(
    member_id: PathId,
    body: TopUpIn,
    response: Response,
    session: SessionDep,
    principal: ClerkDep,
    idempotency_key: IdempotencyKey,
) -> TopUpOut:
    """Top up stored value (the bonus level applies). ``Idempotency-Key`` is required."""
    row, created = stored_value.top_up(
        session,
        principal.merchant_id,
        member_id,
        body.amount_minor,
        idempotency_key,
        principal.actor,
    )
    answer_replay(response, not created)
    return TopUpOut.model_validate(row)


@router.post("/top-ups/{top_up_id}/refund", response_model=TopUpOut, operation_id="refund_top_up")
def refund_top_up(top_up_id: PathId, session: SessionDep, principal: ManagerDep) -> TopUpOut:
    """Refund a top-up: principal back, unused bonus removed, used bonus by the policy."""
    return TopUpOut.model_validate(
        stored_value.refund_top_up(session, principal.merchant_id, top_up_id, principal.actor)
    )


@router.get(
    "/members/{member_id}/stored-value",
    response_model=StoredValueStatementOut,
    operation_id="stored_value_statement",
)
def stored_value_statement(
    member_id: PathId,
    session: SessionDep,
    principal: ClerkDep,
    limit: int = 50,
    cursor: QueryId = None,
) -> StoredValueStatementOut:
    """Balance and history of the member's stored value, in readable words."""
    held = stored_value.balance(session, principal.merchant_id, member_id)
    lines, nxt = stored_value.statement(
        session, principal.merchant_id, member_id, min(max(limit, 1), 200), cursor
    )
    return StoredValueStatementOut(
        principal_minor=held.principal,
        bonus_minor=held.bonus,
        next_cursor=nxt,
        lines=[
            StoredValueLineOut(
                entry_id=ln.entry_id,
                occurred_at=ln.occurred_at,
                reason_code=ln.reason_code,
                description=ln.description,
                amounts=ln.amounts,
                balances_after=ln.balances_after,
            )
            for ln in lines
        ],
    )
