"""/api/v1/journeys: library, CRUD, switch, promote, enrolments and step statistics."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from patron.core.http import Page, PageDep, PathId, SessionDep, page_of
from patron.engagement.journeys import service, stats, triggers
from patron.engagement.journeys.library import LIBRARY
from patron.engagement.journeys.models import Journey
from patron.engagement.journeys.schemas import (
    EnrolmentOut,
    FromLibraryIn,
    JourneyIn,
    JourneyOut,
    JourneyPatch,
    JourneyReachOut,
    LibraryOut,
    PromoteIn,
    StatsOut,
    SwitchIn,
)
from patron.members.service import get_member
from patron.tenancy.auth import ManagerDep

router = APIRouter(prefix="/api/v1", tags=["journeys"])


def _out(session: Session, journey: Journey) -> JourneyOut:
    version = service.current_version(session, journey)
    return JourneyOut(
        id=journey.id,
        name=journey.name,
        library_key=journey.library_key,
        status=journey.status,
        version=journey.version,
        reentry=journey.reentry,
        reentry_days=journey.reentry_days,
        send_window_hours=journey.send_window_hours,
        trigger=version.trigger,
        steps=version.steps,
        exit_rule=version.exit_rule,
        created_at=journey.created_at,
        updated_at=journey.updated_at,
    )


@router.get("/journey-library", response_model=list[LibraryOut], operation_id="journey_library")
def journey_library(principal: ManagerDep) -> list[LibraryOut]:
    return [LibraryOut(key=j.key, name=j.name, description=j.description) for j in LIBRARY.values()]


@router.get("/journeys", response_model=Page[JourneyOut], operation_id="list_journeys")
def list_journeys(session: SessionDep, principal: ManagerDep, page: PageDep) -> object:
    rows = service.list_journeys(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, lambda j: _out(session, j))


@router.post("/journeys", response_model=JourneyOut, status_code=201, operation_id="create_journey")
def create_journey(body: JourneyIn, session: SessionDep, principal: ManagerDep) -> JourneyOut:
    definition = body.model_dump(exclude={"name"})
    journey = service.create_journey(session, principal.merchant_id, body.name, definition)
    return _out(session, journey)


@router.post(
    "/journeys/from-library",
    response_model=JourneyOut,
    status_code=201,
    operation_id="create_journey_from_library",
)
def from_library(body: FromLibraryIn, session: SessionDep, principal: ManagerDep) -> JourneyOut:
    journey = service.create_from_library(
        session, principal.merchant_id, body.key, body.params, body.name
    )
    return _out(session, journey)


@router.get("/journeys/{journey_id}", response_model=JourneyOut, operation_id="get_journey")
def get_journey(journey_id: PathId, session: SessionDep, principal: ManagerDep) -> JourneyOut:
    return _out(session, service.get_journey(session, principal.merchant_id, journey_id))


@router.patch("/journeys/{journey_id}", response_model=JourneyOut, operation_id="update_journey")
def update_journey(
    journey_id: PathId, body: JourneyPatch, session: SessionDep, principal: ManagerDep
) -> JourneyOut:
    changes = body.model_dump(exclude_unset=True)
    journey = service.update_journey(session, principal.merchant_id, journey_id, changes)
    return _out(session, journey)


@router.post(
    "/journeys/{journey_id}/switch", response_model=JourneyOut, operation_id="switch_journey"
)
def switch_journey(
    journey_id: PathId, body: SwitchIn, session: SessionDep, principal: ManagerDep
) -> JourneyOut:
    journey = service.switch(session, principal.merchant_id, journey_id, body.on)
    return _out(session, journey)


@router.post("/journeys/{journey_id}/promote", operation_id="promote_product")
def promote(
    journey_id: PathId, body: PromoteIn, session: SessionDep, principal: ManagerDep
) -> dict[str, int]:
    journey = service.get_journey(session, principal.merchant_id, journey_id)
    return {"enrolled": triggers.promote(session, principal.merchant_id, journey, body.product_id)}


@router.get(
    "/journeys/{journey_id}/enrolments",
    response_model=Page[EnrolmentOut],
    operation_id="list_journey_enrolments",
)
def journey_enrolments(
    journey_id: PathId, session: SessionDep, principal: ManagerDep, page: PageDep
) -> object:
    rows = service.enrolments(
        session, principal.merchant_id, journey_id=journey_id, limit=page.limit, cursor=page.cursor
    )
    return page_of(rows, page.limit, EnrolmentOut.model_validate)


@router.get(
    "/members/{member_id}/journey-enrolments",
    response_model=Page[EnrolmentOut],
    operation_id="list_member_journey_enrolments",
)
def member_enrolments(
    member_id: PathId, session: SessionDep, principal: ManagerDep, page: PageDep
) -> object:
    get_member(session, principal.merchant_id, member_id)
    rows = service.enrolments(
        session, principal.merchant_id, member_id=member_id, limit=page.limit, cursor=page.cursor
    )
    return page_of(rows, page.limit, EnrolmentOut.model_validate)


@router.get("/journeys/{journey_id}/stats", response_model=StatsOut, operation_id="journey_stats")
def journey_stats(journey_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    found = service.step_stats(session, principal.merchant_id, journey_id)
    counts = stats.step_message_counts(session, principal.merchant_id, journey_id)
    return {**found, "messages": {step: c.as_dict() for step, c in counts.items()}}


@router.get(
    "/journeys/{journey_id}/reach", response_model=JourneyReachOut, operation_id="journey_reach"
)
def journey_reach(journey_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    """Each send step: how many of the audience it would reach now, and why not the rest."""
    return stats.step_reach(session, principal.merchant_id, journey_id)
