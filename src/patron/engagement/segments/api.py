"""/api/v1/segments: define, preview (live count), materialise, list members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from patron.core.http import Page, PageDep, PathId, SessionDep, page_of
from patron.core.member_fields import FIELDS
from patron.engagement.segments import service
from patron.members.schemas import MemberOut
from patron.tenancy.auth import ClerkDep, ManagerDep

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


class SegmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    rules: dict[str, Any]


class SegmentPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    rules: dict[str, Any] | None = None


class RulesIn(BaseModel):
    rules: dict[str, Any]


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    rules: dict[str, Any]
    status: str
    member_count: int
    time_relative: bool
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentPreviewOut(BaseModel):
    count: int
    time_relative: bool
    sample: list[MemberOut]


class FieldOut(BaseModel):
    name: str
    ops: list[str]
    description: str
    time_relative: bool
    kind: str = Field(
        description="what the value is: text, choice, count, number, money (minor units), "
        "probability (0-1), days, date (YYYY-MM-DD), tag, yes_no, none, object"
    )


class RefreshOut(BaseModel):
    entered: int
    left: int
    member_count: int


@router.get("/fields", response_model=list[FieldOut], operation_id="segment_fields")
def fields(principal: ClerkDep) -> list[FieldOut]:
    """Every field a rule may use, with its operators."""
    return [
        FieldOut(
            name=n,
            ops=sorted(f.ops),
            description=f.description,
            time_relative=f.time_relative,
            kind=f.kind.value,
        )
        for n, f in sorted(FIELDS.items())
    ]


@router.post("/preview", response_model=SegmentPreviewOut, operation_id="preview_segment")
def preview(body: RulesIn, session: SessionDep, principal: ClerkDep) -> SegmentPreviewOut:
    """The live count of rules being edited (nothing is stored)."""
    result = service.preview(session, principal.merchant_id, body.rules)
    return SegmentPreviewOut(
        count=result["count"],
        time_relative=result["time_relative"],
        sample=[MemberOut.model_validate(m) for m in result["sample"]],
    )


@router.get("", response_model=Page[SegmentOut], operation_id="list_segments")
def list_segments(
    session: SessionDep, principal: ClerkDep, page: PageDep, include_archived: bool = False
) -> object:
    rows = service.list_segments(
        session, principal.merchant_id, include_archived, page.limit, page.cursor
    )
    return page_of(rows, page.limit, SegmentOut.model_validate)


@router.post("", response_model=SegmentOut, status_code=201, operation_id="create_segment")
def create_segment(body: SegmentIn, session: SessionDep, principal: ManagerDep) -> SegmentOut:
    segment = service.create_segment(
        session, principal.merchant_id, body.name, body.rules, body.description
    )
    return SegmentOut.model_validate(segment)


@router.get("/{segment_id}", response_model=SegmentOut, operation_id="get_segment")
def get_segment(segment_id: PathId, session: SessionDep, principal: ClerkDep) -> SegmentOut:
    return SegmentOut.model_validate(
        service.get_segment(session, principal.merchant_id, segment_id)
    )


@router.patch("/{segment_id}", response_model=SegmentOut, operation_id="update_segment")
def update_segment(
    segment_id: PathId, body: SegmentPatch, session: SessionDep, principal: ManagerDep
) -> SegmentOut:
    segment = service.update_segment(
        session,
        principal.merchant_id,
        segment_id,
        name=body.name,
        rules=body.rules,
        description=body.description,
    )
    return SegmentOut.model_validate(segment)


@router.delete("/{segment_id}", response_model=SegmentOut, operation_id="archive_segment")
def archive_segment(segment_id: PathId, session: SessionDep, principal: ManagerDep) -> SegmentOut:
    return SegmentOut.model_validate(
        service.archive_segment(session, principal.merchant_id, segment_id)
    )


@router.post("/{segment_id}/refresh", response_model=RefreshOut, operation_id="refresh_segment")
def refresh_segment(segment_id: PathId, session: SessionDep, principal: ManagerDep) -> RefreshOut:
    segment = service.get_segment(session, principal.merchant_id, segment_id)
    entered, left = service.refresh(session, segment, announce=True)
    return RefreshOut(entered=entered, left=left, member_count=segment.member_count)


@router.get(
    "/{segment_id}/members", response_model=Page[MemberOut], operation_id="list_segment_members"
)
def members(
    segment_id: PathId, session: SessionDep, principal: ClerkDep, page: PageDep
) -> dict[str, Any]:
    rows = service.segment_members(
        session, principal.merchant_id, segment_id, page.limit, page.cursor
    )
    return page_of(rows, page.limit, MemberOut.model_validate)
