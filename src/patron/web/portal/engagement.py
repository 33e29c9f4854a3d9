"""The member portal's messages: the in-app inbox and notification preferences per channel
and topic (consent through the members service, effective at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.errors import NotFound
from patron.core.http import SessionDep
from patron.engagement import inbox
from patron.engagement.consent import allows
from patron.i18n import N_
from patron.members import service as members
from patron.members import topics as consent_topics
from patron.members.models import ConsentChannel
from patron.members.schemas import ConsentIn
from patron.web.nav import NavItem
from patron.web.portal.pages import VisitorDep
from patron.web.rendering import flash, render, resolve_locale, translate

router = APIRouter(prefix="/portal")
NAV = [NavItem("inbox", N_("Inbox"), "/portal/inbox", icon="note", order=20)]
ITEMS_PER_PAGE = 20


@router.get("/inbox")
def inbox_page(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    items = inbox.inbox_items(
        session, who.merchant_id, who.member.id, limit=ITEMS_PER_PAGE, cursor=cursor
    )
    more = len(items) > ITEMS_PER_PAGE
    items = items[:ITEMS_PER_PAGE]
    context = {
        "items": items,
        "unread": inbox.unread_count(session, who.merchant_id, who.member.id),
        "next_cursor": items[-1].id if more and items else None,
        "paged": cursor is not None,
    }
    return render(request, "portal/inbox.html", context)


@router.post("/inbox/{item_id}/read")
def read_item(request: Request, item_id: int, session: SessionDep, who: VisitorDep) -> Response:
    inbox.mark_read(session, who.merchant_id, who.member.id, item_id)
    return RedirectResponse(f"/portal/inbox#item-{item_id}", status_code=303)


@router.post("/inbox/read-all")
def read_all(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    inbox.mark_all_read(session, who.merchant_id, who.member.id)
    return RedirectResponse("/portal/inbox", status_code=303)


@router.get("/notifications")
def notifications(request: Request, session: SessionDep, who: VisitorDep) -> Response:
    """A switch per channel and topic (the merchant's list, in the member's language). Each
    shows what the message guards would do: a marketing topic never answered follows the
    general one; a channel blocked for every topic (STOP) shows as off."""
    rows = members.consents(session, who.merchant_id, who.member.id)
    current = {(who.member.id, c.channel, c.topic): c.granted for c in rows}
    topics = consent_topics.list_topics(session, who.merchant_id)
    locale = resolve_locale(request)
    grid = []
    for channel in ConsentChannel:
        grid.append(
            {
                "channel": channel.value,
                "topics": [
                    (
                        t.code,
                        consent_topics.label(t, locale),
                        allows(current, who.member.id, channel.value, t.code, "", t.marketing),
                        t.marketing
                        and t.code != consent_topics.GENERAL
                        and (who.member.id, channel.value, t.code) not in current,
                    )
                    for t in topics
                ],
            }
        )
    general = next((t for t in topics if t.code == consent_topics.GENERAL), None)
    context = {
        "grid": grid,
        "general": consent_topics.label(general, locale) if general else "",
    }
    return render(request, "portal/notifications.html", context)


@router.post("/notifications")
def save_notification(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    channel: Annotated[str, Form(max_length=16)],
    topic: Annotated[str, Form(max_length=40)],
    granted: Annotated[str, Form(max_length=5)],
) -> Response:
    if topic not in consent_topics.topic_codes(session, who.merchant_id):
        raise NotFound("unknown topic", code="invalid_topic")
    try:
        consent = ConsentIn(
            channel=channel, granted=granted == "true", topic=topic, source="portal"
        )
    except ValueError as exc:
        raise NotFound("unknown channel", code="invalid_channel") from exc
    members.set_consent(session, who.merchant_id, who.member.id, consent)
    flash(request, translate(request, "Your message settings are saved."))
    return RedirectResponse(f"/portal/notifications#{channel}", status_code=303)
