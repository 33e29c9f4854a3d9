"""Scan to join: the mobile sign-up page a store's (or a staff member's) QR code opens.

Phone or email, name, birthday (optional), and consent per topic in the merchant's own words
(its consent topics); then a one-time code to the phone or email, which creates the member
and signs them in (``patron.portal.join``). Someone who is already a member gets a sign-in
code instead and nothing of their profile changes; the page answers alike either way.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.http import SessionDep, SettingsDep
from patron.engagement.direct import channel_ready
from patron.members import topics
from patron.members.models import ConsentTopic
from patron.portal import codes, join
from patron.tenancy.models import Merchant, Store
from patron.web.nav import NavItem
from patron.web.portal import lunar_fields
from patron.web.portal.code_signin import contact_refusal, send_code, shop_of
from patron.web.portal.pages import shop_categories
from patron.web.rendering import render, resolve_locale, translate

router = APIRouter(prefix="/portal")
NAV: list[NavItem] = []


def _offered(session: Session, merchant_id: int) -> list[ConsentTopic]:
    """The topics a new member is asked about: the marketing ones (service messages go
    until the member says no, so they are not asked)."""
    return [t for t in topics.list_topics(session, merchant_id) if t.marketing]


def consent_intro(request: Request) -> str:
    """The words above the topics, in the reader's language."""
    return translate(
        request,
        "Send me these by the text message or email I gave (I can stop at any time):",
    )


def consent_words(request: Request, topic: ConsentTopic) -> tuple[str, str]:
    """A topic's label as shown, and the whole sentence the member says yes to by ticking it
    (the words above the topics, then the label): kept as proof."""
    label = topics.label(topic, resolve_locale(request))
    return label, f"{consent_intro(request)} {label}"


def _context(
    request: Request, session: Session, merchant: Merchant, link: join.JoinLink
) -> dict[str, Any]:
    store = session.get(Store, link.store_id) if link.store_id else None
    offered = _offered(session, merchant.id)
    return {
        "shop": merchant,
        "store": store,
        "offered": [(t.code, *consent_words(request, t)) for t in offered],
        "consent_intro": consent_intro(request),
        "by_sms": channel_ready(session, merchant.id, "sms"),
        "by_email": channel_ready(session, merchant.id, "email"),
        "action": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "form": {
            "contact": "",
            "first_name": "",
            "last_name": "",
            "birthday": "",
            "topics": set(),
            "lunar_month": "",
            "lunar_day": "",
            "lunar_leap": "",
            "categories": set(),
        },
        "lunar": lunar_fields.choices(request),
        "categories": sorted(shop_categories(session, merchant.id)),
    }


def _link(
    request: Request, session: Session, settings: Any, slug: str, token: str | None, src: str | None
) -> tuple[Merchant, join.JoinLink]:
    merchant = shop_of(request, session, slug)
    return merchant, join.read_join_link(session, settings.secret_key, merchant, token, src)


@router.get("/{slug}/join")
@router.get("/{slug}/join/{token}")
def join_page(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    token: str | None = None,
    src: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    merchant, link = _link(request, session, settings, slug, token, src)
    return render(request, "portal/join.html", _context(request, session, merchant, link))


@router.post("/{slug}/join")
@router.post("/{slug}/join/{token}")
def sign_up(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    contact: Annotated[str, Form(max_length=254)],
    first_name: Annotated[str, Form(max_length=120)] = "",
    last_name: Annotated[str, Form(max_length=120)] = "",
    birthday: Annotated[str, Form(max_length=10)] = "",
    lunar_month: Annotated[str, Form(max_length=2)] = "",
    lunar_day: Annotated[str, Form(max_length=2)] = "",
    lunar_leap: Annotated[str, Form(max_length=3)] = "",
    topic: Annotated[list[str] | None, Form()] = None,
    categories: Annotated[list[str] | None, Form()] = None,
    token: str | None = None,
    src: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """Check the form and send the code; the member is created when it comes back."""
    merchant, link = _link(request, session, settings, slug, token, src)
    context = _context(request, session, merchant, link)
    context["form"] = {"contact": contact, "first_name": first_name, "last_name": last_name}
    context["form"] |= {"birthday": birthday, "topics": set(topic or [])}
    context["form"] |= {
        "lunar_month": lunar_month,
        "lunar_day": lunar_day,
        "lunar_leap": lunar_leap,
        # What the member likes, from the shop's own categories (anything else is dropped).
        "categories": set(categories or []) & set(context["categories"]),
    }
    words = {code: wording for code, _label, wording in context["offered"]}
    try:
        born = _birthday(birthday)
        moon = lunar_fields.read(lunar_month, lunar_day, lunar_leap)
        if not first_name.strip():
            raise PatronError("name missing", code="name_missing")
        found = codes.contact_of(session, merchant.id, contact)
        if not channel_ready(session, merchant.id, found.channel):
            raise PatronError("channel not set up", code="channel_not_configured")
        form = join.join_form(
            link,
            first_name=first_name,
            last_name=last_name,
            birthday=born,
            lunar_birthday=moon,
            locale=resolve_locale(request),
            consents=[(code, words[code]) for code in words if code in set(topic or [])],
            categories=sorted(context["form"]["categories"]),
        )
        send_code(request, session, settings, tasks, merchant, found, form)
    except PatronError as exc:
        session.rollback()
        context["error"] = _refusal(request, exc)
        return render(request, "portal/join.html", context, status=422)
    return RedirectResponse(f"/portal/{merchant.slug}/code", status_code=303)


def _birthday(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        born = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise PatronError("bad birthday", code="invalid_birthday") from exc
    if born.year < 1900 or born > date.today():
        raise PatronError("bad birthday", code="invalid_birthday")
    return born


def _refusal(request: Request, exc: PatronError) -> str:
    if exc.code == "name_missing":
        return translate(request, "Tell us your name.")
    if exc.code == "invalid_birthday":
        return translate(request, "That birthday is not a date we can use.")
    if exc.code == "invalid_lunar_birthday":
        return translate(request, "Choose both the lunar month and the day of your birthday.")
    if exc.code == "channel_not_configured":
        return translate(request, "This shop cannot send codes that way yet. Try the other one.")
    return contact_refusal(request, exc)
