"""``patron member export`` / ``erase`` as an operator runs them (real process, SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from patron.core.db import make_engine, make_session_factory, transaction
from patron.members.models import Member
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.privacy.models import MemberErasure
from patron.tenancy import service as tenancy
from tests.test_cli import db_url, patron  # noqa: F401  (the fixture)


def test_member_export_and_erase_from_the_cli(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        m = tenancy.create_merchant(s, "Tea", "tea", "CNY", "Asia/Shanghai", "en").id
        member = create_member(
            s, m, MemberCreate(first_name="Ada", phone="+8613800000005", email="ada@example.com")
        ).id
    out = tmp_path / "ada.json"
    r = patron(db_url, "member", "export", str(member), "--merchant", "tea", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["member"]["email"] == "ada@example.com"

    wrong = patron(
        db_url,
        "member",
        "erase",
        str(member),
        "--merchant",
        "tea",
        "--reason",
        "asked",
        "--confirm",
        str(member + 1),
    )
    assert (wrong.returncode, wrong.stderr.strip()) == (
        1,
        f"error: --confirm must repeat the member number {member}",
    )
    unknown = patron(
        db_url,
        "member",
        "erase",
        "999",
        "--merchant",
        "tea",
        "--reason",
        "asked",
        "--confirm",
        "999",
    )
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: member not found")
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(MemberErasure)) == 0
    done = patron(
        db_url,
        "member",
        "erase",
        str(member),
        "--merchant",
        "tea",
        "--reason",
        "asked",
        "--confirm",
        str(member),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"member {member} erased at ")
    again = patron(
        db_url,
        "member",
        "erase",
        str(member),
        "--merchant",
        "tea",
        "--reason",
        "asked",
        "--confirm",
        str(member),
    )
    assert again.stdout.startswith(f"member {member} was already erased at ")
    with transaction(sessions) as s:
        row = s.get(Member, member)
        assert row is not None and (row.first_name, row.email) == (None, None)
        assert s.scalars(select(MemberErasure.actor)).all() == ["cli"]
    engine.dispose()
