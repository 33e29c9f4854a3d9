"""The catalogue in the dashboard: products with their release time, the early access list
(products members may buy before everyone else, ADR 0357), and setting a product's release
time (managers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, PatronError
from patron.core.http import PathId, SessionDep, SettingsDep
from patron.i18n import N_
from patron.orders import service as orders
from patron.orders.schemas import ProductUpdate
from patron.portal import posters
from patron.portal.products import product_url
from patron.programs.calendar import merchant_zone
from patron.programs.rules import member_day_rule
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffDep
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, translate

router = APIRouter()
NAV = [NavItem("products", N_("Products"), "/products", icon="bag", order=25)]
PAGE_SIZE = 50
EARLY_SHOWN = 100


@router.get("/products")
def product_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    q: Annotated[str, Query(max_length=120)] = "",
    view: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Every product, newest first (or found by sku or name); ``view=early``: the products not
    yet released, soonest first."""
    now = utcnow(session)
    early = view == "early"
    if early:
        rows = orders.upcoming_releases(session, staff.merchant_id, now, EARLY_SHOWN)
        more = False
    else:
        rows = orders.list_products(
            session, staff.merchant_id, q=q.strip() or None, limit=PAGE_SIZE, cursor=cursor
        )
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
    context = {
        "rows": rows,
        "q": q,
        "early": early,
        "now": now,
        "next_cursor": rows[-1].id if more and rows else None,
        "paged": cursor is not None,
    }
    return render(request, "dashboard/products/list.html", context)


@router.get("/products/{product_id}")
def product_detail(
    request: Request, product_id: int, session: SessionDep, settings: SettingsDep, staff: StaffDep
) -> Response:
    product = orders.get_product(session, staff.merchant_id, product_id)
    now = utcnow(session)
    zone = merchant_zone(session, staff.merchant_id)
    rule = member_day_rule(session, staff.merchant_id, now)
    context = {
        "product": product,
        "now": now,
        "release_local": product.release_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        if product.release_at
        else "",
        "early_access": rule.config.early_access if rule else "members",
        "early_access_tiers": rule.config.early_access_tiers if rule else [],
        "can_edit": staff.role.rank >= Role.MANAGER.rank,
        "portal_url": product_url(settings.base_url, staff.merchant, product.id),
    }
    return render(request, "dashboard/products/detail.html", context)


@router.get("/products/{product_id}/qr.svg")
def product_qr_svg(
    product_id: PathId, session: SessionDep, settings: SettingsDep, staff: StaffDep
) -> Response:
    """The product's scan-to-buy code (its portal page) with its name under it, as SVG."""
    product = orders.get_product(session, staff.merchant_id, product_id)
    url = product_url(settings.base_url, staff.merchant, product.id)
    return Response(
        posters.qr_svg(url, product.name),
        media_type="image/svg+xml",
        headers={"Content-Disposition": f'inline; filename="product-{product.id}.svg"'},
    )


@router.get("/products/{product_id}/qr.png")
def product_qr_png(
    product_id: PathId, session: SessionDep, settings: SettingsDep, staff: StaffDep
) -> Response:
    """The product's scan-to-buy code with its name under it, as PNG."""
    product = orders.get_product(session, staff.merchant_id, product_id)
    url = product_url(settings.base_url, staff.merchant, product.id)
    return Response(
        posters.qr_png(url, product.name, settings.qr_label_font),
        media_type="image/png",
        headers={"Content-Disposition": f'inline; filename="product-{product.id}.png"'},
    )


@router.post("/products/{product_id}/release")
def set_release(
    request: Request,
    product_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    release_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Set the release time (the shop's local time) or clear it (blank: on sale to everyone)."""
    orders.get_product(session, staff.merchant_id, product_id)
    try:
        when = _local_time(release_at, session, staff.merchant_id)
        orders.update_product(
            session, staff.merchant_id, product_id, ProductUpdate(release_at=when)
        )
        flash(request, translate(request, "Release time saved."))
    except PatronError as exc:
        flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")
    return RedirectResponse(f"/products/{product_id}", status_code=303)


def _local_time(text: str, session: SessionDep, merchant_id: int) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a date and time", code="invalid_time") from exc
    if local.tzinfo is None:
        local = local.replace(tzinfo=merchant_zone(session, merchant_id))
    return local.astimezone(UTC)
