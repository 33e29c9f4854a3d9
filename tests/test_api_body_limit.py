"""The API's request bodies are bounded: 413 in the error envelope, nothing imported."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.members.models import Member
from tests.conftest import Tenant


def _members(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Member)) or 0)


def _upload(size_mb: int) -> bytes:
    head = b"external_id,email,phone,first_name\nx1,a@example.com,,"
    return head + b"y" * ((size_mb << 20) - len(head)) + b"\n"


def test_an_import_over_the_upload_limit_is_413(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    limit = client.app.state.settings.import_max_upload_mb  # type: ignore[attr-defined]
    r = client.post(
        "/api/v1/imports/customers?format=generic",
        files={"file": ("big.csv", _upload(limit + 2), "text/csv")},
        headers=tenant.headers,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert str((limit << 20) + (1 << 20)) in r.json()["error"]["message"]
    assert _members(sessions) == 0


def test_a_chunked_body_is_cut_off_at_the_limit(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    """No Content-Length: the body is counted as it arrives."""
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            sent.append(1)
            yield b"z" * (1 << 20)

    r = client.post(
        "/api/v1/members",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert _members(sessions) == 0


def test_a_normal_body_passes(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/v1/members",
        json={"first_name": "Mei", "phone": "+8613800138000"},
        headers=tenant.headers,
    )
    assert r.status_code == 201
