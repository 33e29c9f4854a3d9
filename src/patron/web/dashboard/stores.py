"""Stores in the dashboard: members who joined online per store, and each store's join link and
printable QR code (SVG, PNG), with a link of their own for each staff member (attribution).

Managers and owners see and print every link; a clerk sees the store list and their own link
and code only (what they show a customer at the counter), like the rest of the settings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.config import Settings
from patron.core.errors import NotFound
from patron.core.http import PathId, QueryId, SessionDep, SettingsDep
from patron.i18n import N_
from patron.portal import join, posters
from patron.tenancy.models import Role, StaffUser, Store
from patron.web.auth import NotAllowed, StaffContext, StaffDep
from patron.web.nav import NavItem
from patron.web.rendering import render

router = APIRouter()
NAV = [NavItem("stores", N_("Stores"), "/stores", icon="home", order=60)]


def _store(session: Session, staff: StaffContext, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None or store.merchant_id != staff.merchant_id:
        raise NotFound("store not found", code="store_not_found")
    return store


def _staff_of_link(session: Session, staff: StaffContext, staff_id: int | None) -> int | None:
    """The staff member a link is for: anyone of the merchant for a manager or owner, only
    themself for a clerk (a clerk never prints the store's own code)."""
    if staff.role.rank < Role.MANAGER.rank and staff_id != staff.user.id:
        raise NotAllowed()
    if staff_id is None:
        return None
    user = session.get(StaffUser, staff_id)
    if user is None or user.merchant_id != staff.merchant_id:
        raise NotFound("staff member not found", code="staff_not_found")
    return user.id


def _join_url(
    settings: Settings, staff: StaffContext, store: Store, staff_id: int | None, src: str | None
) -> str:
    path = join.join_path(
        settings.secret_key, staff.merchant, store.id, staff_id, join.clean_source(src)
    )
    return settings.base_url.rstrip("/") + path


@router.get("/stores")
def stores_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    stores = list(
        session.scalars(
            select(Store).where(Store.merchant_id == staff.merchant_id).order_by(Store.id)
        )
    )
    counts = join.joined_online(session, staff.merchant_id)
    rows = [(s, counts.get(s.id, 0)) for s in stores]
    context = {"rows": rows, "elsewhere": counts.get(None, 0)}
    return render(request, "dashboard/stores/list.html", context)


@router.get("/stores/{store_id}")
def store_page(
    request: Request,
    store_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    src: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    store = _store(session, staff, store_id)
    manager = staff.role.rank >= Role.MANAGER.rank
    people = (
        list(
            session.scalars(
                select(StaffUser)
                .where(StaffUser.merchant_id == staff.merchant_id)
                .order_by(StaffUser.name, StaffUser.id)
            )
        )
        if manager
        else [staff.user]
    )
    source = join.clean_source(src)
    context = {
        "store": store,
        "manager": manager,
        "source": source or "",
        "joined": join.joined_online(session, staff.merchant_id).get(store.id, 0),
        "store_link": _join_url(settings, staff, store, None, source) if manager else None,
        "staff_links": [(p, _join_url(settings, staff, store, p.id, source)) for p in people],
    }
    return render(request, "dashboard/stores/detail.html", context)


@router.get("/stores/{store_id}/join-qr.svg")
def join_qr_svg(
    store_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    staff_id: Annotated[QueryId, Query(alias="staff")] = None,
    src: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The printable code of the store's (or a staff member's) join link, as SVG."""
    return join_qr(store_id, "svg", session, settings, staff, staff_id, src)


@router.get("/stores/{store_id}/join-qr.png")
def join_qr_png(
    store_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    staff_id: Annotated[QueryId, Query(alias="staff")] = None,
    src: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The printable code of the store's (or a staff member's) join link, as PNG."""
    return join_qr(store_id, "png", session, settings, staff, staff_id, src)


def join_qr(
    store_id: int,
    kind: str,
    session: Session,
    settings: Settings,
    staff: StaffContext,
    staff_id: int | None,
    src: str | None,
) -> Response:
    """The code of the join link with the store's name under it."""
    store = _store(session, staff, store_id)
    person = _staff_of_link(session, staff, staff_id)
    url = _join_url(settings, staff, store, person, src)
    filename = f"join-{store.code}{'-' + str(person) if person else ''}.{kind}"
    headers = {"Content-Disposition": f'inline; filename="{filename}"'}
    if kind == "svg":
        return Response(
            posters.qr_svg(url, store.name), media_type="image/svg+xml", headers=headers
        )
    png = posters.qr_png(url, store.name, settings.qr_label_font)
    return Response(png, media_type="image/png", headers=headers)
