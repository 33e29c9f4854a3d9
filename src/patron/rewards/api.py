"""/api/v1: a member's daily check-in and rewarded actions (ADR 1320, ADR 1321)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from patron.core.http import (
    Page,
    PageDep,
    PathId,
    SessionDep,
    answer_replay,
    page_of,
    replay_responses,
)
from patron.ledger import queries
from patron.rewards import actions, checkin
from patron.rewards.schemas import (
    ActionIn,
    ActionOut,
    CheckInOut,
    CheckInStateOut,
    DayOut,
    MilestoneOut,
)
from patron.tenancy.auth import ClerkDep

router = APIRouter(prefix="/api/v1", tags=["rewards"])


@router.post(
    "/members/{member_id}/check-ins",
    response_model=CheckInOut,
    status_code=201,
    operation_id="check_in_member",
)
def check_in_member(member_id: PathId, session: SessionDep, principal: ClerkDep) -> CheckInOut:
    """Check the member in today (the merchant's calendar) and grant the day's rewards. Once a
    day: a second check-in is a 409 ``already_checked_in`` and grants nothing (no
    Idempotency-Key is needed: a retry cannot grant twice). 422 ``check_in_not_offered`` when the
    merchant has no check-in setting."""
    row = checkin.check_in(session, principal.merchant_id, member_id, source="api")
    return CheckInOut.model_validate(row)


@router.get(
    "/members/{member_id}/check-in",
    response_model=CheckInStateOut,
    operation_id="member_check_in_state",
)
def member_check_in_state(
    member_id: PathId, session: SessionDep, principal: ClerkDep
) -> CheckInStateOut:
    """Today's state: checked in or not, the streak, the next milestone, the last 7 days."""
    queries.check_member(session, principal.merchant_id, member_id)
    found = checkin.state(session, principal.merchant_id, member_id)
    nxt = found.next_milestone
    return CheckInStateOut(
        offered=found.offered,
        today=found.today,
        checked_in_today=found.checked_in_today,
        streak=found.streak,
        today_points=found.today_points,
        next_milestone=MilestoneOut.model_validate(nxt) if nxt else None,
        days_to_next_milestone=found.days_to_next,
        last_7_days=[DayOut(day=d, checked_in=c) for d, c in found.last_days],
    )


@router.get(
    "/members/{member_id}/check-ins",
    response_model=Page[CheckInOut],
    operation_id="member_check_ins",
)
def member_check_ins(
    member_id: PathId, session: SessionDep, principal: ClerkDep, page: PageDep
) -> object:
    """The member's check-ins, newest first."""
    queries.check_member(session, principal.merchant_id, member_id)
    rows = checkin.history(session, principal.merchant_id, member_id, page.limit, page.cursor)
    return page_of(rows, page.limit, CheckInOut.model_validate)


@router.post(
    "/members/{member_id}/actions",
    response_model=ActionOut,
    status_code=201,
    operation_id="record_member_action",
    responses=replay_responses(ActionOut),
)
def record_member_action(
    member_id: PathId,
    body: ActionIn,
    response: Response,
    session: SessionDep,
    principal: ClerkDep,
) -> ActionOut:
    """An action the merchant rewards (``review_written``…) done by the member. The body's
    ``event_id`` is the key (as an order's ``external_id``): the same event again answers the
    first result (200, ``Idempotent-Replayed: true``) and earns nothing; the same id for
    another event is a 409 ``event_id_reused``. An unknown action is a 422 ``unknown_action``
    listing the merchant's actions. Over a cap, the event is recorded with ``earned: false``
    and the cap in ``refusal``."""
    queries.check_member(session, principal.merchant_id, member_id)
    result = actions.record_action(
        session,
        principal.merchant_id,
        member_id,
        body.action,
        body.event_id,
        occurred_at=body.occurred_at,
        details=body.details,
        actor=principal.actor,
    )
    answer_replay(response, result.replayed)
    return ActionOut.model_validate(result.row)


@router.get(
    "/members/{member_id}/actions",
    response_model=Page[ActionOut],
    operation_id="member_actions",
)
def member_actions(
    member_id: PathId, session: SessionDep, principal: ClerkDep, page: PageDep
) -> object:
    """The member's action events, earned or not, newest first."""
    queries.check_member(session, principal.merchant_id, member_id)
    rows = actions.history(session, principal.merchant_id, member_id, page.limit, page.cursor)
    return page_of(rows, page.limit, ActionOut.model_validate)
