"""Signing in and out of the dashboard, the language switcher, and the overview page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from patron.core.errors import TooManyAttempts, Unauthorized
from patron.core.http import SessionDep, SettingsDep
from patron.i18n import N_
from patron.members.models import FunnelStage, Member
from patron.tenancy import login as staff_login
from patron.tenancy.models import StaffUser
from patron.tenancy.sessions import end_staff_session
from patron.web.auth import (
    StaffDep,
    client_address,
    login_policy,
    safe_next,
    sign_in_staff,
    sign_out,
)
from patron.web.dashboard.overview_sales import SALES_DAYS, chosen_days, sales_for
from patron.web.nav import NavItem
from patron.web.rendering import remember_language, render, session_data

router = APIRouter()
NAV = [NavItem("overview", N_("Overview"), "/dashboard", icon="home", order=0)]


@router.get("/")
def root(request: Request) -> RedirectResponse:
    signed_in = "staff_id" in session_data(request)
    return RedirectResponse("/dashboard" if signed_in else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/dashboard") -> Response:
    request.state.area = "login"
    return render(
        request, "dashboard/login.html", {"next": safe_next(next), "email": "", "error": None}
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> Response:
    """Check the password (:func:`patron.tenancy.login.sign_in` counts the attempt against the
    account and the address first, and refuses while either is locked)."""
    request.state.area = "login"
    context: dict[str, object] = {"next": safe_next(next), "email": email, "error": None}
    try:
        user_id = staff_login.sign_in(
            request.app.state.sessions,
            email,
            password,
            client_address(request),
            login_policy(settings),
        )
    except TooManyAttempts as exc:
        wait = exc.details.get("retry_after", 1) if isinstance(exc.details, dict) else 1
        context["error"] = "locked"
        context["wait"] = wait
        response = render(request, "dashboard/login.html", context, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    except Unauthorized:
        context["error"] = "invalid"
        return render(request, "dashboard/login.html", context, status=401)
    user = session.get(StaffUser, user_id)
    if user is None:  # removed between the check and now
        context["error"] = "invalid"
        return render(request, "dashboard/login.html", context, status=401)
    sign_in_staff(request, session, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    """Sign out: the session ends on the server too, so a copied cookie stops working."""
    sign_out(request, session, end_staff_session)
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def language(
    request: Request,
    locale: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> RedirectResponse:
    return remember_language(request, locale, next, "/dashboard")


@router.get("/dashboard")
def overview(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    days: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """Where the merchant lands: sales for the last days against the days before (managers and
    owners), members per funnel stage and the newest members."""
    merchant_id = staff.merchant_id
    live = (Member.merchant_id == merchant_id, Member.merged_into_id.is_(None))
    counts = dict(
        session.execute(
            select(Member.funnel_stage, func.count()).where(*live).group_by(Member.funnel_stage)
        ).all()
    )
    newest = list(session.scalars(select(Member).where(*live).order_by(Member.id.desc()).limit(8)))
    stages = [(stage.value, int(counts.get(stage.value, 0))) for stage in FunnelStage]
    context = {
        "stages": stages,
        "total": sum(n for _s, n in stages),
        "newest": newest,
        "sales": sales_for(request, session, staff, settings, chosen_days(days)),
        "sales_days": SALES_DAYS,
    }
    return render(request, "dashboard/overview.html", context)
