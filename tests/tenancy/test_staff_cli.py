"""``patron staff set-password`` and ``patron staff remove`` end the user's sessions."""

from __future__ import annotations

from sqlalchemy import select

from patron.core.db import make_engine, make_session_factory, transaction
from patron.tenancy import service as tenancy
from patron.tenancy.models import LoginThrottle, StaffSession, StaffUser
from patron.tenancy.sessions import staff_session_stands, start_staff_session
from tests.test_cli import db_url, patron  # noqa: F401 (the fixture)


def test_set_password_and_remove_end_sessions(db_url: str) -> None:  # noqa: F811
    r = patron(db_url, "merchant", "create", "--name", "Tea", "--slug", "tea", "--owner-email",
               "boss@tea.test", "--owner-password", "first pass 1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    sessions = make_session_factory(make_engine(db_url))
    with transaction(sessions) as s:
        user = s.scalars(select(StaffUser)).one()
        raw = start_staff_session(s, user, 3600)
        s.add(LoginThrottle(key="account:boss@tea.test", failures=9, updated_at=user.created_at))

    r = patron(db_url, "staff", "set-password", "--merchant", "tea", "--email", "boss@tea.test",
               "--password", "second pass 2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    with sessions() as s:
        assert not staff_session_stands(s, raw, user.id)
        assert tenancy.authenticate_staff(s, "boss@tea.test", "second pass 2").id == user.id
        lock = s.get(LoginThrottle, "account:boss@tea.test")
        assert lock is not None and lock.failures == 0

    r = patron(db_url, "staff", "remove", "--merchant", "tea", "--email", "nobody@tea.test")
    assert (r.returncode, r.stderr.strip()) == (
        1,
        "error: no staff user nobody@tea.test at this merchant",
    )
    with transaction(sessions) as s:
        raw = start_staff_session(s, s.scalars(select(StaffUser)).one(), 3600)
    r = patron(db_url, "staff", "remove", "--merchant", "tea", "--email", "boss@tea.test")
    assert r.returncode == 0, r.stderr
    with sessions() as s:
        assert s.scalars(select(StaffUser)).all() == []
        assert s.scalars(select(StaffSession)).all() == []
        assert not staff_session_stands(s, raw, user.id)
