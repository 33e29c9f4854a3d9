"""Consent topics in the dashboard: the merchant's one list (code, words in English and Chinese,
marketing or service), with a form to add one and to relabel each (managers and owners only,
like the other message settings). A refusal is shown on the page and changes nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from patron.core.errors import PatronError
from patron.core.http import SessionDep
from patron.members import topics
from patron.web.auth import ManagerPageDep
from patron.web.nav import NavItem
from patron.web.rendering import flash, render, resolve_locale, translate

router = APIRouter()
NAV: list[NavItem] = []  # reached from the message settings page


@router.get("/message-settings/topics")
def topics_page(request: Request, session: SessionDep, staff: ManagerPageDep) -> Response:
    rows = topics.list_topics(session, staff.merchant_id)
    general = next((t for t in rows if t.code == topics.GENERAL), None)
    context = {
        "topics": rows,
        "general": topics.label(general, resolve_locale(request)) if general else "",
    }
    return render(request, "dashboard/engagement/topics.html", context)


def _refused(request: Request, session: SessionDep, exc: PatronError) -> None:
    session.rollback()
    flash(request, translate(request, "Not saved: %(reason)s", reason=exc.message), "error")


@router.post("/message-settings/topics")
def add_topic(
    request: Request,
    session: SessionDep,
    staff: ManagerPageDep,
    code: Annotated[str, Form(max_length=40)],
    label_en: Annotated[str, Form(max_length=80)] = "",
    label_zh: Annotated[str, Form(max_length=80)] = "",
    marketing: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """A new topic at the end of the list."""
    try:
        topics.add_topic(
            session,
            staff.merchant_id,
            code,
            {"en": label_en, "zh_Hans": label_zh},
            marketing == "true",
        )
        flash(request, translate(request, "Topic added."))
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse("/message-settings/topics", status_code=303)


@router.post("/message-settings/topics/{topic_id}")
def relabel_topic(
    request: Request,
    topic_id: int,
    session: SessionDep,
    staff: ManagerPageDep,
    label_en: Annotated[str, Form(max_length=80)] = "",
    label_zh: Annotated[str, Form(max_length=80)] = "",
    marketing: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """New words (and the marketing flag) for a topic; another merchant's topic is a 404."""
    topics.get_topic(session, staff.merchant_id, topic_id)
    try:
        topics.update_topic(
            session,
            staff.merchant_id,
            topic_id,
            labels={"en": label_en, "zh_Hans": label_zh},
            marketing=marketing == "true",
        )
        flash(request, translate(request, "Topic saved."))
    except PatronError as exc:
        _refused(request, session, exc)
    return RedirectResponse(f"/message-settings/topics#topic-{topic_id}", status_code=303)
