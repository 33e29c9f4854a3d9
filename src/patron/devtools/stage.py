"""What ``make screenshots`` shows: the demo shop's logins (a clerk is added when it has none),
the member whose portal is shown, sample rows the demo lacks (a segment, a draft campaign), and
the pages of each shell."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CartLineIn, CommitRequest
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.demo import catalogue
from patron.devtools.pages import Page, pages_of
from patron.engagement.campaigns.models import Campaign
from patron.engagement.campaigns.schemas import CampaignIn
from patron.engagement.campaigns.service import create_campaign
from patron.engagement.models import MessageTemplate
from patron.engagement.segments.models import Segment
from patron.engagement.segments.service import create_segment
from patron.imports.jobs import create_job, run_imports_task
from patron.imports.models import ImportJob
from patron.ledger.models import IdempotencyKey
from patron.members.models import Member
from patron.orders.models import Order, OrderLine
from patron.payments import service as payments
from patron.tenancy import service as tenancy
from patron.tenancy.models import Role, StaffUser
from patron.voice import reviews
from patron.voice.models import Review, ServiceCase
from patron.voice.storage import storage_for
from patron.web.nav import NavItem

CLERK_EMAIL = "clerk@demo.patron"
CLERK_PASSWORD = "patron-clerk"
REGULARS = {"all": [{"field": "orders_count", "op": "gte", "value": 3}]}
# A sale rung up at the till (its receipt page) and an imported file with a bad row (its page).
TILL_SALE_KEY = "till-screenshots-sale-0001"
CUSTOMERS_CSV = (
    b"external_id,first_name,last_name,email,phone,tags\n"
    b"s-1,Mei,Chen,mei.chen@example.com,13800138000,vip\n"
    b"s-2,Wei,Li,not-an-email,13800138001,\n"
)


@dataclass
class Stage:
    settings: Settings
    merchant_id: int
    member_id: int
    dashboard: list[Page]
    portal: list[Page]
    clerk_nav: list[NavItem]
    owner_email: str = catalogue.OWNER_EMAIL
    owner_password: str = catalogue.OWNER_PASSWORD
    clerk_email: str = CLERK_EMAIL
    clerk_password: str = CLERK_PASSWORD
    notes: list[str] = field(default_factory=list)

    def allowed(self, role: str, path: str) -> bool:
        """Whether ``role`` must be able to open ``path``: the owner every page, a clerk the
        entries of a clerk's navigation (the forms behind them may be for managers only)."""
        if role != "clerk":
            return True
        return any(item.href == path for item in self.clerk_nav)


def busiest_member(session: Session, merchant_id: int) -> int:
    """The registered member with the most orders: the fullest member page and portal."""
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
    if found is None:
        raise SystemExit("the demo shop has no registered member")
    return found


def ensure_clerk(session: Session, merchant_id: int) -> None:
    exists = session.scalar(
        select(StaffUser.id).where(
            StaffUser.merchant_id == merchant_id, StaffUser.email == CLERK_EMAIL
        )
    )
    if exists is None:
        tenancy.create_staff_user(
            session, merchant_id, CLERK_EMAIL, "Clerk", Role.CLERK.value, CLERK_PASSWORD
        )


def add_missing_samples(
    sessions: sessionmaker[Session], settings: Settings, merchant_id: int
) -> list[str]:
    """A segment, a draft campaign, a till sale and an import when the shop has none (their
    pages need one); what could not be added is returned as notes (the services' rules may
    have moved on)."""
    notes: list[str] = []
    try:
        with transaction(sessions) as session:
            segment = session.scalar(select(Segment).where(Segment.merchant_id == merchant_id))
            if segment is None:
                segment = create_segment(
                    session, merchant_id, "Regulars", REGULARS, "Three orders or more"
                )
            has_draft = session.scalar(
                select(Campaign.id).where(
                    Campaign.merchant_id == merchant_id, Campaign.status == "draft"
                )
            )
            template = session.scalar(
                select(MessageTemplate.id).where(MessageTemplate.merchant_id == merchant_id)
            )
            if has_draft is None and template is not None:
                create_campaign(
                    session,
                    merchant_id,
                    CampaignIn(
                        name="Mid-Autumn gift boxes",
                        segment_id=segment.id,
                        channel="in_app",
                        template_id=template,
                    ),
                )
    except (PatronError, ValidationError) as exc:
        notes.append(f"could not add a sample segment and draft campaign: {exc}")
    notes += _till_sale(sessions, merchant_id) + _import_job(sessions, settings, merchant_id)
    notes += _review_and_case(sessions, settings, merchant_id)
    return notes + _payment(sessions, merchant_id)


def _payment(sessions: sessionmaker[Session], merchant_id: int) -> list[str]:
    """A top-up the busiest member started in the portal and has not paid yet (its page needs
    one). WeChat Pay is switched on for it with no account: nothing is sent anywhere."""
    try:
        with transaction(sessions) as session:
            member_id = busiest_member(session, merchant_id)
            if not payments.member_orders(session, merchant_id, member_id, 1):
                if "wechat_pay" not in payments.usable_providers(session, merchant_id):
                    payments.put_settings(
                        session,
                        merchant_id,
                        "wechat_pay",
                        enabled=True,
                        base_url=None,
                        credentials={},
                    )
                payments.new_order(session, merchant_id, member_id, "wechat_pay", 10000)
    except PatronError as exc:
        return [f"could not add a sample top-up payment: {exc}"]
    return []


def _review_and_case(
    sessions: sessionmaker[Session], settings: Settings, merchant_id: int
) -> list[str]:
    """A two-star review by the busiest member, which opens an after-sales case."""
    try:
        with transaction(sessions) as session:
            if session.scalar(select(ServiceCase.id).where(ServiceCase.merchant_id == merchant_id)):
                return []
            member_id = busiest_member(session, merchant_id)
            line = session.scalar(
                select(OrderLine)
                .join(Order, Order.id == OrderLine.order_id)
                .outerjoin(Review, Review.order_line_id == OrderLine.id)
                .where(
                    Order.merchant_id == merchant_id,
                    Order.member_id == member_id,
                    Order.status != "cancelled",
                    OrderLine.refunded_quantity < OrderLine.quantity,
                    Review.id.is_(None),
                )
                .order_by(OrderLine.id.desc())
                .limit(1)
            )
            if line is None:
                return ["no purchase of the busiest member left to review"]
            reviews.write_review(
                session,
                merchant_id,
                member_id,
                line.id,
                2,
                "The lid does not close well.",
                [],
                storage_for(settings.media_dir),
            )
    except PatronError as exc:
        return [f"could not add a sample review and case: {exc}"]
    return []


def _till_sale(sessions: sessionmaker[Session], merchant_id: int) -> list[str]:
    """A sale of two tins to the busiest member, as the till records it (key ``till-…``)."""
    try:
        with transaction(sessions) as session:
            done = session.scalar(
                select(IdempotencyKey.id).where(
                    IdempotencyKey.merchant_id == merchant_id,
                    IdempotencyKey.key.like("checkout:till-%"),
                )
            )
            if done is None:
                member_id = busiest_member(session, merchant_id)
                sale = CommitRequest(
                    member_id=member_id,
                    store_code=catalogue.PHYSICAL_STORES[0].code,
                    lines=[CartLineIn(sku="LJ-50G", quantity=2)],
                )
                checkout.commit(session, merchant_id, sale, TILL_SALE_KEY, "screenshots")
    except (PatronError, ValidationError) as exc:
        return [f"could not ring up a sample sale at the till: {exc}"]
    return []


def _import_job(sessions: sessionmaker[Session], settings: Settings, merchant_id: int) -> list[str]:
    """A customers file with one bad row, imported as the dashboard's upload would be."""
    try:
        with transaction(sessions) as session:
            if session.scalar(select(ImportJob.id).where(ImportJob.merchant_id == merchant_id)):
                return []
            create_job(
                session,
                merchant_id,
                kind="customers",
                fmt="generic",
                filename="customers.csv",
                upload=io.BytesIO(CUSTOMERS_CSV),
                max_bytes=len(CUSTOMERS_CSV),
            )
        run_imports_task(sessions, settings)
    except (PatronError, ValidationError) as exc:
        return [f"could not import a sample customers file: {exc}"]
    return []


def prepare_stage(app: FastAPI, sessions: sessionmaker[Session], settings: Settings) -> Stage:
    """Logins, samples and the page lists, from the scratch database."""
    with transaction(sessions) as session:
        merchant = tenancy.find_merchant(session, catalogue.MERCHANT_SLUG)
        ensure_clerk(session, merchant.id)
    notes = add_missing_samples(sessions, settings, merchant.id)
    with sessions() as session:
        member_id = busiest_member(session, merchant.id)
        dashboard, missing = pages_of(app, "dashboard", session, merchant.id)
        portal, missing_portal = pages_of(app, "portal", session, merchant.id)
    notes += [f"not shown, no sample row in the database: {r}" for r in missing + missing_portal]
    clerk = Role.CLERK.rank
    nav = [i for i in app.state.web_shells["dashboard"].nav if i.min_role.rank <= clerk]
    return Stage(settings, merchant.id, member_id, dashboard, portal, nav, notes=notes)
