"""The login lockout holds under parallel attempts: however many wrong passwords arrive at
once, exactly ``free_failures`` reach the password check before the account (or the address)
locks. Real threads against real SQLite and PostgreSQL; the clock is frozen, so a lock lasts
for the whole test."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.errors import TooManyAttempts, Unauthorized
from patron.tenancy import login
from patron.tenancy.login import LoginPolicy
from patron.tenancy.models import LoginThrottle
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.helpers import csrf_of

POLICY = LoginPolicy(account_free_failures=5, address_free_failures=20)
ATTEMPTS = 90


def _race(attempts: list[Callable[[], object]]) -> Counter[str]:
    """Run every attempt in its own thread, all released at once; outcome → how many."""
    start = threading.Barrier(len(attempts))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(attempt: Callable[[], object]) -> None:
        start.wait()
        try:
            attempt()
            outcome = "signed_in"
        except Unauthorized:
            outcome = "checked_wrong"
        except TooManyAttempts:
            outcome = "locked"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(a,)) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def _attempt(
    sessions: sessionmaker[Session], email: str, password: str, address: str
) -> Callable[[], object]:
    return lambda: login.sign_in(sessions, email, password, address, POLICY)


def test_parallel_wrong_passwords_on_one_account_check_exactly_five(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    # 90 addresses, so only the account's counter can stop them.
    outcomes = _race(
        [
            _attempt(sessions, tenant.owner_email, f"wrong {i}", f"10.0.0.{i}")
            for i in range(ATTEMPTS)
        ]
    )
    assert outcomes == Counter({"checked_wrong": 5, "locked": ATTEMPTS - 5})
    with sessions() as s:
        account = s.get(LoginThrottle, f"account:{tenant.owner_email}")
        assert account is not None
        assert (account.failures, account.locked_until) == (5, clock.now() + timedelta(seconds=2))
    # The right password is refused too while the lock lasts.
    with pytest.raises(TooManyAttempts):
        login.sign_in(sessions, tenant.owner_email, tenant.owner_password, "10.9.9.9", POLICY)


def test_parallel_attempts_from_one_address_check_exactly_twenty(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    # 90 different accounts (unknown emails cost the same check), one address.
    outcomes = _race(
        [
            _attempt(sessions, f"guess{i}@alpha.test", "password1", "203.0.113.7")
            for i in range(ATTEMPTS)
        ]
    )
    assert outcomes == Counter({"checked_wrong": 20, "locked": ATTEMPTS - 20})
    with sessions() as s:
        keys = set(s.scalars(select(LoginThrottle.key)))
    # Locked attempts were refused at the address and never counted against their account.
    assert len([k for k in keys if k.startswith("account:")]) == 20
    # Another address is not affected.
    assert login.sign_in(
        sessions, tenant.owner_email, tenant.owner_password, "198.51.100.1", POLICY
    )


def test_a_right_password_resets_the_account_but_not_the_address(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    for _ in range(4):
        with pytest.raises(Unauthorized):
            login.sign_in(sessions, tenant.owner_email, "nope nope", "192.0.2.1", POLICY)
    login.sign_in(sessions, tenant.owner_email, tenant.owner_password, "192.0.2.1", POLICY)
    with sessions() as s:
        account = s.get(LoginThrottle, f"account:{tenant.owner_email}")
        address = s.get(LoginThrottle, "address:192.0.2.1")
        assert account is not None and address is not None
        assert (account.failures, account.locked_until) == (0, None)
        assert (address.failures, address.locked_until) == (4, None)


def test_parallel_wrong_passwords_over_http_lock_after_five(
    settings: Settings, engine: Engine, clock: FrozenClock, tenant: Tenant
) -> None:
    """The same race through the login page of a real server: 40 browsers (each with its own
    session and CSRF token) post a wrong password at once; 5 get 401, the rest 429."""
    roomy = settings.model_copy(
        update={
            "rate_limit_sign_in_address": "1000/minute",
            "login_address_max_failures_before_delay": 1000,
            # Every attempt reaches the sign-in at once: no admission queue or write slots
            # (ADR 0040) between the 40 browsers and the race this test is about.
            "max_requests_in_flight": 40,
            "max_writes_in_flight": 0,
            "request_queue_seconds": 30.0,
        }
    )
    app = create_app(roomy, engine=engine, clock=clock, run_worker=False)
    n = 40
    with live_server(app) as url:
        browsers = [httpx.Client(base_url=url, timeout=60) for _ in range(n)]
        tokens = [csrf_of(b.get("/login")) for b in browsers]  # type: ignore[arg-type]

        def post(i: int) -> Callable[[], object]:
            def attempt() -> object:
                r = browsers[i].post(
                    "/login",
                    data={
                        "email": tenant.owner_email,
                        "password": "wrong",
                        "csrf_token": tokens[i],
                    },
                )
                if r.status_code == 401:
                    raise Unauthorized("wrong")
                if r.status_code == 429:
                    assert int(r.headers["retry-after"]) >= 1
                    raise TooManyAttempts("locked")
                raise AssertionError(r.status_code)

            return attempt

        outcomes = _race([post(i) for i in range(n)])
        for b in browsers:
            b.close()
    assert outcomes == Counter({"checked_wrong": 5, "locked": n - 5})
