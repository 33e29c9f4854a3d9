"""Guessing a one-time code in parallel on PostgreSQL: the counter locks out, exactly."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.core.errors import PatronError, TooManyAttempts
from patron.members import service as members
from patron.members.schemas import MemberCreate
from patron.portal import codes
from patron.portal.models import PortalCode
from patron.tenancy import service as tenancy
from patron.tenancy.models import LoginThrottle

SECRET = "test-secret-key-0123456789"
POLICY = codes.CodePolicy(free_failures=5, client_free_failures=1000)
GUESSERS = 24


def _one_try(
    sessions: sessionmaker[Session], merchant_id: int, contact: codes.Contact, guess: str
) -> str:
    """What one guess met: ``locked`` (refused before the check), or the check's answer."""
    try:
        codes.count_code_attempt(sessions, merchant_id, contact, "198.51.100.7", POLICY)
    except TooManyAttempts:
        return "locked"
    try:
        with transaction(sessions) as session:
            codes.redeem_code(session, merchant_id, contact, guess, secret_key=SECRET)
    except PatronError as exc:
        return exc.code
    return "signed_in"


def test_parallel_guesses_lock_out_after_the_allowance(
    pg_only_engine: Engine, clock: FrozenClock
) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    with transaction(sessions) as s:
        merchant = tenancy.create_merchant(s, "Alpha", "alpha", "CNY", "Asia/Shanghai", "en")
        members.create_member(s, merchant.id, MemberCreate(email="mei@example.com"))
        contact = codes.Contact("email", "mei@example.com")
        issued = codes.issue_code(
            s, merchant.id, contact, secret_key=SECRET, policy=POLICY, client="203.0.113.9"
        )
    wrong = [f"{(int(issued.code) + n) % 1_000_000:06d}" for n in range(1, GUESSERS + 1)]
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(GUESSERS)

    def guess(code: str) -> None:
        start.wait()
        answer = _one_try(sessions, merchant.id, contact, code)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=guess, args=(code,)) for code in wrong]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Exactly the allowance reached the check; every other guess was refused unchecked.
    assert Counter(results) == {"code_wrong": 5, "locked": GUESSERS - 5}
    # The right code is refused too while the lock lasts, and stays unused.
    assert _one_try(sessions, merchant.id, contact, issued.code) == "locked"
    with sessions() as s:
        assert s.scalars(select(PortalCode.used_at)).one() is None
        throttle = s.get(LoginThrottle, codes.address_key(merchant.id, contact.address))
        assert throttle is not None and throttle.failures == 5
        assert throttle.locked_until is not None
    # After the wait the right code works once, and the count starts afresh.
    clock.advance(throttle.locked_until - clock.now())
    assert _one_try(sessions, merchant.id, contact, issued.code) == "signed_in"
    with sessions() as s:
        throttle = s.get(LoginThrottle, codes.address_key(merchant.id, contact.address))
        assert throttle is not None and throttle.failures == 0
