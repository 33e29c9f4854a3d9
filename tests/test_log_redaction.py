"""Logs carry no members' data from database errors and no sign-in tokens from the access log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.logging import AccessLogRedaction, JsonFormatter, configure_logging
from patron.members import service as members
from patron.members.models import MemberIdentity
from patron.members.schemas import MemberCreate
from tests.conftest import Tenant

EMAIL = "mei.secret@example.com"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("patron.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def test_a_database_error_logs_no_member_email_or_id(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    """A real duplicate-key error from the real database (PostgreSQL's message names the key's
    values; SQLAlchemy's names the statement's parameters)."""
    logger, out = captured
    with transaction(sessions) as s:
        member = members.create_member(
            s, tenant.merchant_id, MemberCreate(first_name="Mei", email=EMAIL)
        )
    duplicate = {
        "merchant_id": tenant.merchant_id,
        "member_id": member.id,
        "kind": "email",
        "namespace": "",
        "value": EMAIL,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert(MemberIdentity).values(**duplicate))
    assert f"'{EMAIL}'" not in str(caught.value)  # hide_parameters on every engine
    try:
        raise caught.value
    except IntegrityError:
        logger.exception("unhandled error")
    line = json.loads(out.getvalue())
    assert "IntegrityError" in line["exc"]
    assert EMAIL not in out.getvalue()
    assert f", {member.id}," not in out.getvalue() and f"({member.id}," not in out.getvalue()


def test_the_access_log_carries_no_sign_in_tokens() -> None:
    configure_logging("INFO", json_lines=True)
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, AccessLogRedaction) for f in access.filters)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "10.0.0.1:5000",
            "GET",
            "/portal/signin/eyJsIjo0Mn0.Zk3x.abc-DEF_ghi?lang=zh",
            "1.1",
            200,
        ),
        None,
    )
    for f in access.filters:
        f.filter(record)
    assert record.getMessage() == '10.0.0.1:5000 - "GET /portal/signin/…?lang=zh HTTP/1.1" 200'
    for path, shown in (
        ("/u/tok3n.sig", "/u/…"),
        ("/password-reset/abc123", "/password-reset/…"),
        ("/api/v1/x?token=s3cret&a=1", "/api/v1/x?token=…&a=1"),
        ("/dashboard?q=1", "/dashboard?q=1"),
    ):
        r = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", (path,), None)
        AccessLogRedaction().filter(r)
        assert r.getMessage() == shown
