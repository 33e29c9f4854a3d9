"""``patron import orders`` as a merchant runs it: a real process on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

import patron
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.orders.models import OrderLine
from patron.tenancy import service as tenancy

# The process must run this checkout's code, not whatever ``patron`` the virtualenv points at.
SRC = str(Path(patron.__file__).resolve().parents[1])

ORDERS = """\
order_id,placed_at,member_email,store_code,name,quantity,unit_price,line_discount
A-1,2025-06-01T10:00:00+08:00,ann@example.com,,乌龙茶 Oolong,2,45.00,
A-1,,,,Cup,1,30.00,0.50
A-2,2025-06-02T09:30:00+08:00,bob@example.com,,Gift box,1,88.00,
A-3,2025-06-02T09:30:00+08:00,,,Bag,1,10.001,
"""


def patron_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": db_url,
        "PATRON_LOG_JSON": "false",
        "PYTHONPATH": SRC,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    # Set up in-process (each `patron` process costs seconds); only the import runs as the CLI.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        tenancy.create_merchant(session, "Tea", "tea", "CNY", "Asia/Shanghai", "zh_Hans_CN")
    engine.dispose()
    return url


def import_orders(db_url: str, file: Path) -> subprocess.CompletedProcess[str]:
    return patron_cli(
        db_url, "import", "orders", str(file), "--merchant", "tea", "--format", "generic"
    )


def test_import_orders_refuses_a_bad_header_then_imports_and_reimports(
    db_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("order,when\n1,2\n", encoding="utf-8")
    refused = import_orders(db_url, bad)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: orders.csv: wrong header, missing column(s): name, order_id, placed_at, "
        "quantity, unit_price"
    ]
    assert not (tmp_path / "bad.rejects.csv").exists()

    good = tmp_path / "orders.csv"
    # Saved by Excel on a Chinese Windows: GBK bytes, read as GB18030 (its superset).
    good.write_bytes(ORDERS.encode("gbk"))
    report = tmp_path / "orders.rejects.csv"
    first = import_orders(db_url, good)
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.split()
        == (
            f"orders: read 3, created 2, updated 0, unchanged 0, rejected 1 (report: {report})"
        ).split()
    )
    assert report.read_text(encoding="utf-8").splitlines() == [
        "line,reason,order_id,placed_at,member_email,store_code,name,quantity,unit_price,"
        "line_discount",
        "5,order A-3: unit_price: '10.001' has more than 2 decimals,A-3,"
        "2025-06-02T09:30:00+08:00,,,Bag,1,10.001,",
    ]

    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        names = session.scalars(select(OrderLine.name).order_by(OrderLine.id)).all()
    engine.dispose()
    assert names == ["乌龙茶 Oolong", "Cup", "Gift box"]

    again = import_orders(db_url, good)
    assert again.returncode == 0, again.stderr
    assert (
        again.stdout.split()
        == (
            f"orders: read 3, created 0, updated 0, unchanged 2, rejected 1 (report: {report})"
        ).split()
    )
