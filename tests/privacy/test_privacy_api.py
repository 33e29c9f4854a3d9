"""GET /members/{id}/export and POST /members/{id}/erase: roles, tenancy, idempotency."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.ledger.verify import verify
from patron.members.models import Member, MemberIdentity
from patron.privacy.models import MemberErasure
from tests.conftest import Tenant
from tests.privacy.helpers import EMAIL, FIRST, PHONE, build_history, totals, traces

REASON = {"reason": "member's request of 2026-03-09"}


def _state(sessions: sessionmaker[Session], member_id: int) -> tuple[Any, ...]:
    with transaction(sessions) as s:
        member = s.get(Member, member_id)
        assert member is not None
        identities = s.scalar(select(func.count()).where(MemberIdentity.member_id == member_id))
        erasures = s.scalar(select(func.count()).select_from(MemberErasure))
        return (member.first_name, member.email, member.erased_at, identities, erasures)


def test_export_and_erase_through_the_api(
    client: TestClient,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    m = tenant.merchant_id
    history = build_history(client, sessions, clock, tenant)
    member = history.member_id
    url = f"/api/v1/members/{member}"
    before = _state(sessions, member)
    assert before == (FIRST, EMAIL, None, 3, 0)

    # A clerk may not export or erase; another merchant does not find the member.
    for headers, status, code in (
        (tenant.clerk_headers, 403, "insufficient_role"),
        (other_tenant.headers, 404, "member_not_found"),
    ):
        r = client.get(f"{url}/export", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
        r = client.post(f"{url}/erase", headers={**headers, "Idempotency-Key": "e-x"}, json=REASON)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert _state(sessions, member) == before
    assert client.post(f"{url}/erase", headers=tenant.headers, json={}).status_code == 422
    assert _state(sessions, member) == before

    exported = client.get(f"{url}/export", headers=tenant.headers)
    assert exported.status_code == 200
    body = exported.json()
    assert body["member"]["phone"] == PHONE
    assert sorted(o["external_id"] for o in body["tables"]["orders"])[:2] == ["Q-1", "Q-2"]
    assert body["balances"]["points"] == 900

    totals_before = totals(sessions, m)
    headers = {**tenant.headers, "Idempotency-Key": "erase-1"}
    first = client.post(f"{url}/erase", headers=headers, json=REASON)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    out = first.json()
    assert (out["member_id"], out["reason"], out["erased_at"]) == (
        member,
        REASON["reason"],
        "2026-03-18T02:00:00Z",
    )
    assert out["actor"].startswith("apikey:")
    assert out["counts"]["member_identities"] == 3 and out["counts"]["messages_cancelled"] == 2

    replay = client.post(f"{url}/erase", headers=headers, json=REASON)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (200, "true")
    assert replay.json() == out
    reused = client.post(f"{url}/erase", headers=headers, json={"reason": "something else"})
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_key_reused")
    without_key = client.post(f"{url}/erase", headers=tenant.headers, json=REASON)
    assert (without_key.status_code, without_key.headers["idempotent-replayed"]) == (200, "true")
    assert without_key.json() == out

    after = client.get(f"{url}/export", headers=tenant.headers).json()
    assert after["member"]["first_name"] is None and after["member"]["erased_at"] is not None
    assert after["tables"]["member_identities"] == [] and after["tables"]["member_notes"] == []
    assert after["balances"] == body["balances"]
    assert totals(sessions, m) == totals_before
    with transaction(sessions) as s:
        assert verify(s, m) == []
        assert traces(s) == []
    shown = client.get(url, headers=tenant.headers).json()
    assert (shown["erased_at"], shown["first_name"], shown["display_name"]) == (
        "2026-03-18T02:00:00Z",
        None,
        f"#{member}",
    )
    # Nothing personal can be attached to the tombstone again.
    for method, path, payload in (
        ("PATCH", url, {"first_name": FIRST}),
        ("POST", f"{url}/notes", {"body": "back again"}),
        ("POST", f"{url}/tags", {"tags": ["vip"]}),
        ("PUT", f"{url}/consents", {"channel": "email", "granted": True}),
    ):
        r = client.request(method, path, headers=tenant.headers, json=payload)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "member_erased"), path
    merged = client.post(
        f"/api/v1/members/{history.other_id}/merge",
        headers=tenant.headers,
        json={"other_member_id": member},
    )
    assert (merged.status_code, merged.json()["error"]["code"]) == (422, "member_erased")
    assert _state(sessions, member)[:4] == (None, None, _state(sessions, member)[2], 0)
    # The phone finds nobody now; it can be given to a new member.
    assert (
        client.get(f"/api/v1/members?q={PHONE[-8:]}", headers=tenant.headers).json()["items"] == []
    )
    again = client.post("/api/v1/members", headers=tenant.headers, json={"phone": PHONE})
    assert again.status_code == 201, again.text
