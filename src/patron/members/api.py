"""/api/v1/members: profiles, identities, tags, notes, consent, funnel, merge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from patron.core.http import Page, PageDep, PathId, SessionDep, page_of
from patron.members import service
from patron.members.merge import merge_members
from patron.members.models import Member
from patron.members.schemas import (
    ConsentIn,
    ConsentOut,
    FunnelTransitionOut,
    IdentityOut,
    MemberCreate,
    MemberDetail,
    MemberOut,
    MemberUpdate,
    MergeIn,
    NoteIn,
    NoteOut,
    TagsIn,
)
from patron.tenancy.auth import ClerkDep, ManagerDep
from patron.tenancy.models import StaffUser

router = APIRouter(prefix="/api/v1/members", tags=["members"])


def member_detail(session: Any, merchant_id: int, member: Member) -> MemberDetail:
    return MemberDetail(
        **MemberOut.model_validate(member).model_dump(),
        tags=service.member_tags(session, merchant_id, member.id),
        identities=[
            IdentityOut.model_validate(i)
            for i in service.member_identities(session, merchant_id, member.id)
        ],
        consents=[
            ConsentOut.model_validate(c) for c in service.consents(session, merchant_id, member.id)
        ],
    )


@router.get("", response_model=Page[MemberOut], operation_id="list_members")
def list_members(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            description="phone (or its last digits), email or part of it, name, a tag or its "
            "start (any case), member id or external id"
        ),
    ] = None,
    tag: Annotated[str | None, Query()] = None,
    stage: Annotated[str | None, Query(pattern="^(user|customer|member|fan)$")] = None,
) -> dict[str, Any]:
    rows = service.search_members(
        session, principal.merchant_id, q, tag, stage, limit=page.limit, cursor=page.cursor
    )
    return page_of(rows, page.limit, MemberOut.model_validate)


@router.post("", response_model=MemberDetail, status_code=201, operation_id="create_member")
def create_member(body: MemberCreate, session: SessionDep, principal: ClerkDep) -> MemberDetail:
    member = service.create_member(session, principal.merchant_id, body)
    return member_detail(session, principal.merchant_id, member)


@router.get("/{member_id}", response_model=MemberDetail, operation_id="get_member")
def get_member(member_id: PathId, session: SessionDep, principal: ClerkDep) -> MemberDetail:
    member = service.get_member(session, principal.merchant_id, member_id)
    return member_detail(session, principal.merchant_id, member)


@router.patch("/{member_id}", response_model=MemberDetail, operation_id="update_member")
def update_member(
    member_id: PathId, body: MemberUpdate, session: SessionDep, principal: ClerkDep
) -> MemberDetail:
    member = service.update_member(session, principal.merchant_id, member_id, body)
    return member_detail(session, principal.merchant_id, member)


@router.post("/{member_id}/tags", response_model=list[str], operation_id="add_member_tags")
def add_tags(
    member_id: PathId, body: TagsIn, session: SessionDep, principal: ClerkDep
) -> list[str]:
    return service.add_tags(session, principal.merchant_id, member_id, body.tags)


@router.delete(
    "/{member_id}/tags/{tag}", response_model=list[str], operation_id="remove_member_tag"
)
def remove_tag(member_id: PathId, tag: str, session: SessionDep, principal: ClerkDep) -> list[str]:
    return service.remove_tag(session, principal.merchant_id, member_id, tag)


@router.get("/{member_id}/notes", response_model=list[NoteOut], operation_id="list_member_notes")
def list_notes(member_id: PathId, session: SessionDep, principal: ClerkDep) -> list[NoteOut]:
    service.get_member(session, principal.merchant_id, member_id)
    return [
        NoteOut.model_validate(n)
        for n in service.member_notes(session, principal.merchant_id, member_id)
    ]


@router.post(
    "/{member_id}/notes", response_model=NoteOut, status_code=201, operation_id="add_member_note"
)
def add_note(member_id: PathId, body: NoteIn, session: SessionDep, principal: ClerkDep) -> NoteOut:
    author = f"API key {principal.api_key_id}"
    if principal.staff_user_id is not None:
        staff = session.get(StaffUser, principal.staff_user_id)
        author = staff.name if staff else author
    note = service.add_note(
        session,
        principal.merchant_id,
        member_id,
        body.body,
        body.channel,
        principal.staff_user_id,
        author,
        body.noted_at,
    )
    return NoteOut.model_validate(note)


@router.get(
    "/{member_id}/consents", response_model=list[ConsentOut], operation_id="list_member_consents"
)
def list_consents(member_id: PathId, session: SessionDep, principal: ClerkDep) -> list[ConsentOut]:
    service.get_member(session, principal.merchant_id, member_id)
    return [
        ConsentOut.model_validate(c)
        for c in service.consents(session, principal.merchant_id, member_id)
    ]


@router.put("/{member_id}/consents", response_model=ConsentOut, operation_id="set_member_consent")
def set_consent(
    member_id: PathId, body: ConsentIn, session: SessionDep, principal: ClerkDep
) -> ConsentOut:
    return ConsentOut.model_validate(
        service.set_consent(session, principal.merchant_id, member_id, body)
    )


@router.get(
    "/{member_id}/consent-history",
    response_model=list[ConsentOut],
    operation_id="member_consent_history",
)
def consent_history(
    member_id: PathId, session: SessionDep, principal: ClerkDep
) -> list[ConsentOut]:
    service.get_member(session, principal.merchant_id, member_id)
    rows = service.consent_history(session, principal.merchant_id, member_id)
    return [ConsentOut.model_validate(c) for c in rows]


@router.get(
    "/{member_id}/funnel-history",
    response_model=list[FunnelTransitionOut],
    operation_id="member_funnel_history",
)
def funnel_history(
    member_id: PathId, session: SessionDep, principal: ClerkDep
) -> list[FunnelTransitionOut]:
    service.get_member(session, principal.merchant_id, member_id)
    rows = service.funnel_history(session, principal.merchant_id, member_id)
    return [FunnelTransitionOut.model_validate(t) for t in rows]


@router.post("/{member_id}/merge", response_model=MemberDetail, operation_id="merge_members")
def merge(
    member_id: PathId, body: MergeIn, session: SessionDep, principal: ManagerDep
) -> MemberDetail:
    member = merge_members(session, principal.merchant_id, member_id, body.other_member_id)
    return member_detail(session, principal.merchant_id, member)
