"""Who is looking at a page: a signed-in staff user (dashboard) or member (portal)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from patron.core.config import Settings
from patron.core.http import SessionDep
from patron.members.language import member_language
from patron.members.models import Member
from patron.portal.service import portal_session_stands
from patron.tenancy.login import LoginPolicy
from patron.tenancy.models import Merchant, Role, StaffUser
from patron.tenancy.sessions import staff_session_stands, start_staff_session
from patron.web.rendering import session_data
from patron.web.security import STAFF_SESSION_SECONDS, ensure_csrf_token


class LoginRequired(Exception):
    """No valid staff session: the handler sends the browser to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PortalSignInRequired(Exception):
    """No valid member session: the handler shows how to get a sign-in link."""


class NotAllowed(Exception):
    """Signed in, but the role is too low for this page."""


def auth_fingerprint(user: StaffUser) -> str:
    """Bound into the session: changing the password signs out every other session."""
    return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:32]


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: run uvicorn with
    ``--proxy-headers`` and ``--forwarded-allow-ips`` so this is the real client)."""
    return request.client.host if request.client else "unknown"


def login_policy(settings: Settings) -> LoginPolicy:
    return LoginPolicy(
        account_free_failures=settings.login_max_failures_before_delay,
        address_free_failures=settings.login_address_max_failures_before_delay,
        forget_after_seconds=settings.login_failures_forget_seconds,
    )


def safe_next(path: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/dashboard"
    return path


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


@dataclass(frozen=True)
class MerchantView:
    """What the layout shows of the merchant; plain values, so error pages rendered after a
    rollback never touch an expired ORM object."""

    id: int
    name: str
    currency: str
    timezone: str
    locale: str

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantView:
        return cls(
            merchant.id, merchant.name, merchant.currency, merchant.timezone, merchant.locale
        )


@dataclass(frozen=True)
class StaffView:
    """What the layout shows of the signed-in staff user."""

    id: int
    name: str
    email: str
    role: str

    @classmethod
    def of(cls, user: StaffUser) -> StaffView:
        return cls(user.id, user.name, user.email, user.role)


@dataclass(frozen=True)
class StaffContext:
    """The signed-in staff user and their merchant."""

    user: StaffUser
    merchant: Merchant

    @property
    def merchant_id(self) -> int:
        return self.merchant.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def actor(self) -> str:
        return f"staff:{self.user.id}"


def sign_in_staff(request: Request, db: Session, user: StaffUser) -> None:
    """Start a fresh staff session, recorded on the server so it can be ended (a new CSRF token
    too; the language choice is kept)."""
    sid = start_staff_session(db, user, STAFF_SESSION_SECONDS)
    session = request.scope["session"]
    locale = session.get("locale")
    session.clear()
    session.update({"staff_id": user.id, "sid": sid, "auth": auth_fingerprint(user)})
    if locale:
        session["locale"] = locale
    ensure_csrf_token(session)


def sign_out(request: Request, db: Session, end: Callable[[Session, str], None]) -> None:
    """End the area's server-side session (``end``) and clear its cookie; the language stays."""
    data = request.scope["session"]
    sid = data.get("sid")
    if isinstance(sid, str):
        end(db, sid)
    locale = data.get("locale")
    data.clear()
    if locale:
        data["locale"] = locale


def current_staff(request: Request, session: SessionDep) -> StaffContext:
    """The dashboard's dependency: the signed-in staff user, else :class:`LoginRequired`."""
    request.state.area = "dashboard"
    data = session_data(request)
    staff_id = data.get("staff_id")
    sid = data.get("sid")
    user = session.get(StaffUser, staff_id) if isinstance(staff_id, int) else None
    if (
        user is None
        or not isinstance(sid, str)
        or data.get("auth") != auth_fingerprint(user)
        or not staff_session_stands(session, sid, user.id)
    ):
        raise LoginRequired(login_url(request))
    merchant = session.get(Merchant, user.merchant_id)
    if merchant is None:
        raise LoginRequired(login_url(request))
    request.state.staff = StaffView.of(user)
    request.state.merchant = MerchantView.of(merchant)
    request.state.preferred_locale = user.locale or merchant.locale
    return StaffContext(user, merchant)


StaffDep = Annotated[StaffContext, Depends(current_staff)]


def staff_with_role(role: Role) -> Callable[..., StaffContext]:
    """A dependency for pages that need ``role`` or higher."""

    def check(staff: StaffDep) -> StaffContext:
        if staff.role.rank < role.rank:
            raise NotAllowed()
        return staff

    return check


ManagerPageDep = Annotated[StaffContext, Depends(staff_with_role(Role.MANAGER))]


@dataclass(frozen=True)
class MemberContext:
    """The member signed in to the portal, and their merchant."""

    member: Member
    merchant: Merchant

    @property
    def merchant_id(self) -> int:
        return self.merchant.id


def current_member(request: Request, session: SessionDep) -> MemberContext:
    """The portal's dependency: the signed-in member, else :class:`PortalSignInRequired`."""
    request.state.area = "portal"
    data: dict[str, Any] = session_data(request)
    member_id, merchant_id = data.get("member_id"), data.get("merchant_id")
    sid = data.get("sid")
    member = session.get(Member, member_id) if isinstance(member_id, int) else None
    # An erased member's portal session ends with the erasure (ADR 0050).
    if (
        member is None
        or member.merchant_id != merchant_id
        or member.merged_into_id is not None
        or member.erased_at is not None
        or not isinstance(sid, str)
        or not portal_session_stands(session, sid, member.id)
    ):
        raise PortalSignInRequired()
    merchant = session.get(Merchant, member.merchant_id)
    if merchant is None:
        raise PortalSignInRequired()
    request.state.member = member
    request.state.merchant = MerchantView.of(merchant)
    # Before the member picks one in the switcher: given, else inferred, else the shop's.
    request.state.preferred_locale = member_language(member, merchant.locale).code
    return MemberContext(member, merchant)


MemberDep = Annotated[MemberContext, Depends(current_member)]
