"""Which pages ``make screenshots`` visits: every GET route of the dashboard and the portal, with
sample values for its path parameters taken from the database.

A route with a path parameter needs an entry in :data:`SAMPLES` (one page per row it returns);
a route without one stops the run, naming it, so a new page is never silently left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.coupons.models import CouponTemplate, GiftRule, MallItem
from patron.engagement.campaigns.models import Campaign
from patron.engagement.journeys.models import Journey, JourneyVersion
from patron.engagement.models import MessageTemplate
from patron.engagement.segments.models import Segment
from patron.imports.models import ImportJob
from patron.ledger.models import IdempotencyKey
from patron.members.models import Member
from patron.orders.models import Order, OrderLine, Product
from patron.payments.models import PaymentOrder
from patron.programs.config import Kind
from patron.tenancy.models import Merchant, Store
from patron.voice.models import Review, ServiceCase

# Files, not pages: not screenshotted.
NOT_PAGES = (".csv", ".svg", ".json", ".png", ".pdf", ".pkpass")
# Not places in a shell: sign-in pages are shown signed out; the others only redirect.
SIGNED_OUT = (
    "/login",
    "/portal/signin/{token}",
    "/password-reset",
    "/password-reset/{token}",
    # A shop's own entrance, code sign-in and join pages (read signed out; see
    # tests/web/test_chinese_everywhere.py).
    "/portal/{slug}",
    "/portal/{slug}/signin",
    "/portal/{slug}/code",
    "/portal/{slug}/join",
    "/portal/{slug}/join/{token}",
)
SKIPPED = (
    "/",
    # Review photos: image files, not pages.
    "/reviews/photos/{photo_id}",
    "/portal/reviews/photos/{photo_id}",
    "/till/orders",  # the till's "find an order by its number" form: redirects to the order
    "/portal/card/google",  # redirects to Google Wallet's save page
)

Rows = list[dict[str, Any]]
# A sample row's name for its page when a route has several (a campaign's status).
LABEL = "label"
Sampler = Callable[[Session, int], Rows]


@dataclass(frozen=True)
class Page:
    """One page to visit: the route's path, the concrete path, and the PNG's file name."""

    shell: str  # dashboard | portal
    route: str  # "/members/{member_id}"
    path: str  # "/members/42"
    name: str  # "members-member_id"


def _first(model: Any, label: str, *where: Any) -> Sampler:
    """The merchant's first row of ``model`` (meeting ``where``), as ``{label: id}``."""

    def sample(session: Session, merchant_id: int) -> Rows:
        found = session.scalar(
            select(model.id)
            .where(model.merchant_id == merchant_id, *where)
            .order_by(model.id)
            .limit(1)
        )
        return [] if found is None else [{label: found}]

    return sample


def _busiest_member(session: Session, merchant_id: int) -> Rows:
    """The registered member with the most orders: the fullest member page."""
    found = session.scalar(
        select(Member.id)
        .where(
            Member.merchant_id == merchant_id,
            Member.merged_into_id.is_(None),
            Member.registered_at.is_not(None),
        )
        .order_by(Member.orders_count.desc(), Member.id)
        .limit(1)
    )
    return [] if found is None else [{"member_id": found}]


def _campaign_each_status(session: Session, merchant_id: int) -> Rows:
    """One campaign in each status (a draft and a sent one read differently)."""
    ids = session.scalars(
        select(func.min(Campaign.id))
        .where(Campaign.merchant_id == merchant_id)
        .group_by(Campaign.status)
    )
    rows = session.execute(
        select(Campaign.id, Campaign.status).where(Campaign.id.in_(list(ids))).order_by(Campaign.id)
    )
    return [{"campaign_id": i, LABEL: status} for i, status in rows]


def _journey_steps(session: Session, merchant_id: int) -> Rows:
    """Every step of the first journey (a send, a wait and a branch look different)."""
    journey = session.scalar(
        select(Journey).where(Journey.merchant_id == merchant_id).order_by(Journey.id).limit(1)
    )
    if journey is None:
        return []
    steps = session.scalar(
        select(JourneyVersion.steps).where(
            JourneyVersion.journey_id == journey.id, JourneyVersion.version == journey.version
        )
    )
    return [{"journey_id": journey.id, "step_id": step["id"]} for step in steps or []]


def _till_receipt(session: Session, merchant_id: int) -> Rows:
    """The newest sale rung up at the till (its checkout key is ``till-<key>``)."""
    prefix = "checkout:till-"
    key = session.scalar(
        select(IdempotencyKey.key)
        .where(IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key.like(f"{prefix}%"))
        .order_by(IdempotencyKey.id.desc())
        .limit(1)
    )
    return [] if key is None else [{"key": key.removeprefix(prefix)}]


def _refunded_order(session: Session, merchant_id: int) -> Rows:
    """A member's order with a refund: the till's order card has the most to explain."""
    found = session.scalar(
        select(Order.id)
        .where(
            Order.merchant_id == merchant_id,
            Order.member_id.is_not(None),
            Order.refunded_minor > 0,
        )
        .order_by(Order.id.desc())
        .limit(1)
    )
    return [] if found is None else [{"order_id": found}]


def _product_in_portal(session: Session, merchant_id: int) -> Rows:
    """The shop's first product on sale, as its scan-to-buy page opens it."""
    slug = session.scalar(select(Merchant.slug).where(Merchant.id == merchant_id))
    found = session.scalar(
        select(Product.id)
        .where(
            Product.merchant_id == merchant_id,
            Product.active.is_(True),
            Product.release_at.is_(None),
        )
        .order_by(Product.id)
        .limit(1)
    )
    return [] if found is None or slug is None else [{"slug": slug, "product_id": found}]


def _member_payment(session: Session, merchant_id: int) -> Rows:
    """A top-up payment of the busiest member (the portal's pages are that member's)."""
    member = _busiest_member(session, merchant_id)
    if not member:
        return []
    found = session.scalar(
        select(PaymentOrder.id)
        .where(
            PaymentOrder.merchant_id == merchant_id,
            PaymentOrder.member_id == member[0]["member_id"],
        )
        .order_by(PaymentOrder.id)
        .limit(1)
    )
    return [] if found is None else [{"order_id": found}]


def _busiest_members_case(session: Session, merchant_id: int) -> Rows:
    """A case of the member whose portal is shown."""
    member = _busiest_member(session, merchant_id)
    if not member:
        return []
    found = session.scalar(
        select(ServiceCase.id)
        .where(
            ServiceCase.merchant_id == merchant_id,
            ServiceCase.member_id == member[0]["member_id"],
        )
        .order_by(ServiceCase.id)
        .limit(1)
    )
    return [] if found is None else [{"case_id": found}]


def _reviewed_sku(session: Session, merchant_id: int) -> Rows:
    """A product with reviews, else any product bought."""
    for column, model in ((Review.sku, Review), (OrderLine.sku, OrderLine)):
        found = session.scalar(
            select(column)
            .where(model.merchant_id == merchant_id, column.is_not(None))
            .order_by(model.id)
            .limit(1)
        )
        if found is not None:
            return [{"sku": found}]
    return []


def _member_query(session: Session, merchant_id: int) -> str | None:
    member = _busiest_member(session, merchant_id)
    return f"member={member[0]['member_id']}" if member else None


def _unreviewed_line_query(session: Session, merchant_id: int) -> str | None:
    """A line the portal's member bought and has not reviewed yet."""
    member = _busiest_member(session, merchant_id)
    if not member:
        return None
    reviewed = select(Review.order_line_id).where(Review.merchant_id == merchant_id)
    found = session.scalar(
        select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.merchant_id == merchant_id,
            Order.member_id == member[0]["member_id"],
            Order.status == "completed",
            OrderLine.id.not_in(reviewed),
        )
        .order_by(OrderLine.id.desc())
        .limit(1)
    )
    return None if found is None else f"line={found}"


def _top_up_query(_session: Session, _merchant_id: int) -> str | None:
    return "amount=100&provider=wechat_pay"


# Pages that open only with a query (a form for one member, one purchase, one amount): the
# query a visitor arrives with. None: no sample in this database (listed as missing).
QUERIES: dict[str, Callable[[Session, int], str | None]] = {
    "/cases/new": _member_query,
    "/portal/reviews/new": _unreviewed_line_query,
    "/portal/top-up/confirm": _top_up_query,
}


def _program_kinds(_session: Session, _merchant_id: int) -> Rows:
    return [{"kind": kind.value} for kind in Kind]


SAMPLES: dict[str, Sampler] = {
    "/members/{member_id}": _busiest_member,
    "/members/{member_id}/statement": _busiest_member,
    "/segments/{segment_id}": _first(Segment, "segment_id"),
    "/segments/{segment_id}/edit": _first(Segment, "segment_id"),
    "/templates/{template_id}": _first(MessageTemplate, "template_id"),
    "/programs/{kind}": _program_kinds,
    "/coupons/{template_id}": _first(CouponTemplate, "template_id"),
    "/coupons/{template_id}/edit": _first(CouponTemplate, "template_id"),
    "/mall/items/{item_id}/edit": _first(MallItem, "item_id"),
    "/gifts/{gift_rule_id}/edit": _first(GiftRule, "gift_rule_id"),
    "/products/{product_id}": _first(Product, "product_id"),
    "/campaigns/{campaign_id}": _campaign_each_status,
    "/campaigns/{campaign_id}/edit": _first(Campaign, "campaign_id", Campaign.status == "draft"),
    "/journeys/{journey_id}": _first(Journey, "journey_id"),
    "/journeys/{journey_id}/steps/{step_id}": _journey_steps,
    "/till/receipt/{key}": _till_receipt,
    "/till/orders/{order_id}": _refunded_order,
    "/till/members/{member_id}/top-up": _busiest_member,
    "/imports/{job_id}": _first(ImportJob, "job_id"),
    "/stores/{store_id}": _first(Store, "store_id"),
    "/portal/{slug}/p/{product_id}": _product_in_portal,
    "/portal/top-up/{order_id}": _member_payment,
    "/cases/{case_id}": _first(ServiceCase, "case_id"),
    "/portal/cases/{case_id}": _busiest_members_case,
    "/portal/products/{sku}/reviews": _reviewed_sku,
}


class NoSample(Exception):
    """A route has a path parameter and no entry in :data:`SAMPLES`."""


def page_name(route: str, values: dict[str, Any], several: bool = False) -> str:
    """``/members/{member_id}/statement`` → ``members-member_id-statement``. When a route has
    several samples, a parameter that is not a number (a program kind, a journey step) is
    named by its value (``programs-points``), and a sample's label is added (``…-draft``)."""
    parts = []
    for part in route.strip("/").split("/"):
        if part.startswith("{") and part.endswith("}"):
            key = part[1:-1]
            value = values[key]
            parts.append(str(value) if several and not isinstance(value, int) else key)
        else:
            parts.append(part)
    if LABEL in values:
        parts.append(str(values[LABEL]))
    return "-".join(parts) or "home"


def get_routes(app: FastAPI, shell: str) -> list[str]:
    """The GET routes of ``shell`` (``dashboard`` or ``portal``) that render a page."""
    routes: list[str] = []
    for router in app.state.web_shells[shell].routers:
        for route in router.routes:
            path = str(getattr(route, "path", ""))
            if "GET" not in getattr(route, "methods", ()) or path in routes:
                continue
            if path.endswith(NOT_PAGES) or path in SIGNED_OUT or path in SKIPPED:
                continue
            routes.append(path)
    return routes


def pages_of(
    app: FastAPI, shell: str, session: Session, merchant_id: int
) -> tuple[list[Page], list[str]]:
    """Every page of ``shell``, and the routes with no sample row in this database."""
    pages, missing = [], []
    for route in get_routes(app, shell):
        if route in QUERIES:
            query = QUERIES[route](session, merchant_id)
            if query is None:
                missing.append(route)
            else:
                pages.append(Page(shell, route, f"{route}?{query}", page_name(route, {})))
            continue
        if "{" not in route:
            pages.append(Page(shell, route, route, page_name(route, {})))
            continue
        sampler = SAMPLES.get(route)
        if sampler is None:
            raise NoSample(f"{route}: add a sample for it to SAMPLES in {__name__}")
        rows = sampler(session, merchant_id)
        if not rows:
            missing.append(route)
        for values in rows:
            path = route.format(**{k: v for k, v in values.items() if k != LABEL})
            pages.append(Page(shell, route, path, page_name(route, values, len(rows) > 1)))
    return pages, missing
