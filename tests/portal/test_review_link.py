"""The after-sales journey's "Would you write a review?" links to the review form, through the
portal's sign-in rules (signed out: the shop's sign-in page; signed in: the form)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.config import MessageSettings
from patron.engagement.journeys.library import LIBRARY
from patron.engagement.messages import enqueue_message
from patron.engagement.models import InboxItem
from patron.portal import service as portal
from tests.conftest import Tenant
from tests.engagement.conftest import dispatch
from tests.web.helpers import csrf_of, seed_member


def _follow(client: TestClient, path: str) -> tuple[int, str]:
    for _ in range(6):
        answer = client.get(path, follow_redirects=False)
        if answer.status_code not in (302, 303, 307):
            return answer.status_code, path
        parts = urlsplit(answer.headers["location"])
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    raise AssertionError("too many redirects")


def test_the_review_request_links_to_the_review_form(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant)
    steps = LIBRARY["after_sales"].build({})["steps"]
    review = next(step for step in steps if step["id"] == "review")
    assert review["content"]["en"]["link"] == review["content"]["zh_Hans"]["link"]
    with transaction(sessions) as s:
        enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            review["channel"],
            topic=review["topic"],
            kind=review["kind"],
            dedupe_key="review-request",
            content=review["content"],
        )
    assert (
        dispatch(
            sessions, settings, MessageSettings(batch_size=10, lease_seconds=60, max_attempts=3)
        )
        == 1
    )
    with sessions() as s:
        item = s.scalars(select(InboxItem)).one()
    assert item.title == "Would you write a review?"
    assert item.link == f"{settings.base_url}/portal/alpha?to=reviews"
    parts = urlsplit(item.link)
    path = f"{parts.path}?{parts.query}"
    assert _follow(client, path) == (200, "/portal/alpha/signin")
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    link = issued.url.removeprefix(settings.base_url)
    client.post(link, data={"csrf_token": csrf_of(client.get(link))})
    status, landed = _follow(client, path)
    assert (status, landed) == (200, "/portal/reviews")
    assert "Write a review" in client.get(landed).text
