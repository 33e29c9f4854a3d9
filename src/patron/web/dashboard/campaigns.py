"""Campaigns in the dashboard: the list, a draft's form, launch / pause / resume / cancel, and
the campaign's page with its recipients and results (treated vs holdout, chart and CSV).

Reading is open to every staff member; changing anything needs the manager role (as the API).
Every service refusal is shown on the page and its transaction rolled back, so a refused form
never leaves half a change behind.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import NotFound, PatronError
from patron.core.http import SessionDep
from patron.coupons.models import CouponTemplate
from patron.engagement.campaigns import results as campaign_results
from patron.engagement.campaigns import service as campaigns
from patron.engagement.campaigns import stats as campaign_stats
from patron.engagement.campaigns.models import Campaign, CampaignStatus
from patron.engagement.campaigns.schemas import CampaignPatch
from patron.engagement.models import MessageTemplate
from patron.engagement.segments.models import Segment
from patron.i18n import N_
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep, StaffContext, StaffDep
from patron.web.dashboard import campaign_view as view
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, resolve_locale, translate

router = APIRouter()
NAV = [NavItem("campaigns", N_("Campaigns"), "/campaigns", icon="send", order=40)]

PAGE_SIZE = 25
RECIPIENTS_PER_PAGE = 50
GROUPS = ("treated", "holdout")
ACTIONS = {
    "pause": campaigns.pause,
    "resume": campaigns.resume,
    "cancel": campaigns.cancel,
}
DONE = {
    "launch": N_("Campaign launched."),
    "pause": N_("Campaign paused."),
    "resume": N_("Campaign resumed."),
    "cancel": N_("Campaign cancelled."),
}


def _refused(request: Request, session: Session, exc: PatronError) -> None:
    """Roll the refused change back and tell the reader why; a foreign id stays a 404."""
    session.rollback()
    if isinstance(exc, NotFound) and exc.code == "campaign_not_found":
        raise exc
    flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")


def _names(session: Session, rows: list[Campaign]) -> dict[str, dict[int, str]]:
    """Segment and template names for the list (one query each)."""
    seg_ids = {c.segment_id for c in rows if c.segment_id is not None}
    tpl_ids = {c.template_id for c in rows}
    segments = dict(
        session.execute(select(Segment.id, Segment.name).where(Segment.id.in_(seg_ids))).all()
    )
    templates = dict(
        session.execute(
            select(MessageTemplate.id, MessageTemplate.name).where(MessageTemplate.id.in_(tpl_ids))
        ).all()
    )
    return {"segments": segments, "templates": templates}


@router.get("/campaigns")
def campaign_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Newest first: status, audience, released so far, holdout share."""
    rows = campaigns.list_campaigns(session, staff.merchant_id, limit=PAGE_SIZE, cursor=cursor)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {
        "rows": rows,
        "counts": campaign_stats.campaign_counts(session, staff.merchant_id, [c.id for c in rows]),
        "names": _names(session, rows),
        "next_cursor": rows[-1].id if more and rows else None,
        "paged": cursor is not None,
        "can_manage": staff.role.rank >= Role.MANAGER.rank,
    }
    return render(request, "dashboard/campaigns/list.html", context)


def _form_page(
    request: Request,
    session: Session,
    staff: StaffContext,
    values: dict[str, str],
    campaign: Campaign | None,
    error: str | None = None,
) -> Response:
    context = {"values": values, "campaign": campaign, "error": error}
    context |= view.form_choices(session, staff.merchant_id, resolve_locale(request))
    return render(request, "dashboard/campaigns/form.html", context, status=422 if error else 200)


@router.get("/campaigns/new")
def new_campaign(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    return _form_page(request, session, staff, view.form_values(None), None)


@router.post("/campaigns/new")
async def create_campaign(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    values = {k: str(v) for k, v in (await request.form()).items() if k in view.FIELDS}
    try:
        campaign = campaigns.create_campaign(session, staff.merchant_id, view.parse_form(values))
    except PatronError as exc:
        session.rollback()
        return _form_page(request, session, staff, values, None, exc.message)
    flash(request, translate(request, "Draft saved."))
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id}/edit")
def edit_campaign(
    request: Request, campaign_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    campaign = campaigns.get_campaign(session, staff.merchant_id, campaign_id)
    return _form_page(request, session, staff, view.form_values(campaign), campaign)


@router.post("/campaigns/{campaign_id}/edit")
async def update_campaign(
    request: Request, campaign_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    campaign = campaigns.get_campaign(session, staff.merchant_id, campaign_id)
    values = {k: str(v) for k, v in (await request.form()).items() if k in view.FIELDS}
    try:
        data = view.parse_form(values)
        patch = CampaignPatch.model_validate(
            data.model_dump(exclude={"member_ids", "channel", "kind"})
        )
        # Channel and kind are not in CampaignPatch; a draft may still change them (checked
        # with the template by update_campaign).
        campaign.channel, campaign.kind = data.channel, data.kind
        campaigns.update_campaign(session, staff.merchant_id, campaign_id, patch)
    except PatronError as exc:
        session.rollback()
        campaign = campaigns.get_campaign(session, staff.merchant_id, campaign_id)
        return _form_page(request, session, staff, values, campaign, exc.message)
    flash(request, translate(request, "Draft saved."))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


def _recipients(
    session: Session, staff: StaffContext, campaign_id: int, grp: str, cursor: int | None
) -> dict[str, Any]:
    rows = campaigns.recipients(
        session,
        staff.merchant_id,
        campaign_id,
        grp=grp or None,
        limit=RECIPIENTS_PER_PAGE,
        cursor=cursor,
    )
    more = len(rows) > RECIPIENTS_PER_PAGE
    rows = rows[:RECIPIENTS_PER_PAGE]
    return {
        "recipients": rows,
        "recipient_names": view.member_names(
            session, staff.merchant_id, [r.member_id for r in rows]
        ),
        "recipients_next": rows[-1].id if more and rows else None,
        "recipients_paged": cursor is not None,
        "grp": grp,
    }


def _results(session: Session, staff: StaffContext, campaign: Campaign) -> dict[str, Any] | None:
    if campaign.launched_at is None:
        return None
    found = campaign_results.campaign_results(session, staff.merchant_id, campaign.id)
    found["charts"] = {
        metric: view.chart(found[metric]) for metric in ("repurchase_rate", "revenue_per_member")
    }
    return found


@router.get("/campaigns/{campaign_id}")
def campaign_detail(
    request: Request,
    campaign_id: int,
    session: SessionDep,
    staff: StaffDep,
    grp: Annotated[str, Query(max_length=8)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Settings, progress, actions, results and the recipients (paged, by group)."""
    campaign = campaigns.get_campaign(session, staff.merchant_id, campaign_id)
    grp = grp if grp in GROUPS else ""
    context: dict[str, Any] = {
        "c": campaign,
        "segment": session.get(Segment, campaign.segment_id) if campaign.segment_id else None,
        "template": session.get(MessageTemplate, campaign.template_id),
        "coupon": session.get(CouponTemplate, campaign.coupon_template_id)
        if campaign.coupon_template_id
        else None,
        "results": _results(session, staff, campaign),
        "can_manage": staff.role.rank >= Role.MANAGER.rank,
        "counts": campaign_stats.campaign_counts(session, staff.merchant_id, [campaign.id])[
            campaign.id
        ],
        "reach": campaign_stats.campaign_reach(session, staff.merchant_id, campaign.id)
        if campaign.launched_at is None
        else None,
        "topic_label": dict(
            view.topic_choices(session, staff.merchant_id, resolve_locale(request))
        ).get(campaign.topic, campaign.topic),
    }
    context |= _recipients(session, staff, campaign_id, grp, cursor)
    return render(request, "dashboard/campaigns/detail.html", context)


@router.post("/campaigns/{campaign_id}/launch")
def launch_campaign(
    request: Request,
    campaign_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Launch now, or schedule for ``at`` (the merchant's local time)."""
    try:
        when = view.parse_schedule(at, staff.merchant.timezone)
        campaign = campaigns.launch(session, staff.merchant_id, campaign_id, when)
        done = DONE["launch"]
        if campaign.status == CampaignStatus.SCHEDULED:
            done = N_("Campaign scheduled.")
        flash(request, translate(request, done))
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/{action}")
def campaign_action(
    request: Request, campaign_id: int, action: str, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """Pause, resume or cancel; a second click on the same button is refused, not repeated."""
    do = ACTIONS.get(action)
    if do is None:
        raise NotFound("no such action", code="not_found")
    try:
        do(session, staff.merchant_id, campaign_id)
        flash(request, translate(request, DONE[action]))
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id}/results.csv")
def results_download(campaign_id: int, session: SessionDep, staff: StaffDep) -> Response:
    found = campaign_results.campaign_results(session, staff.merchant_id, campaign_id)
    return Response(
        view.results_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-results.csv"'
        },
    )
