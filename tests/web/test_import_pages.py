"""Import and export in the dashboard (issue 10, item 4), on both databases.

A Shopify customers export with bad rows, a generic orders file saved by Excel in Chinese (GBK)
and a UTF-8 file with a byte order mark go through the upload form; the worker imports them;
the figures on the import's page are the rows in the database, and the report of refused rows
holds each bad row with its reason and its cells. Exports neutralise formula cells. Uploads
over the limit store nothing. Clerks are refused; another merchant's import is a 404.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.imports.models import ImportFileChunk, ImportJob, ImportReject
from patron.members import service as members
from patron.members.models import Member
from patron.members.schemas import MemberCreate
from patron.orders.models import Order, OrderLine
from patron.worker import drain
from tests.conftest import Tenant
from tests.imports.fixtures import SHOPIFY_CUSTOMERS
from tests.web.helpers import add_staff, csrf_of, sign_in, sign_in_as

COUNT = re.compile(r'data-count="(\w+)">([\d,]+)<')
GBK_ORDERS = """\
order_id,placed_at,member_email,name,category,quantity,unit_price
G-1,2025-06-01T10:00:00+08:00,mei.chen@example.com,铁观音 乌龙茶,茶叶,2,45.00
G-1,,,紫砂杯,茶具,1,30.00
G-2,2025-06-02T09:30:00+08:00,新客户@example,龙井,茶叶,1,88.00
G-3,2025-06-03T09:30:00+08:00,li.na@example.com,普洱,茶叶,-1,60.00
"""
BOM_MEMBERS = """\
external_id,email,phone,first_name,last_name,member_since
p-1,zhou.yue@example.com,13900001111,悦,周,2024-05-01
p-2,,13900002222,Léa,Dubois,
"""


def upload(
    client: TestClient, data: bytes, kind: str, fmt: str = "auto", name: str = "file.csv"
) -> object:
    token = csrf_of(client.get("/imports"))
    return client.post(
        "/imports",
        data={"csrf_token": token, "kind": kind, "format": fmt},
        files={"file": (name, data, "text/csv")},
        follow_redirects=False,
    )


def counts_on(page: str) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in COUNT.findall(page)}


def count(db: Session, model: type, *where: object) -> int:
    db.rollback()
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def report_of(client: TestClient, job_id: int) -> list[list[str]]:
    r = client.get(f"/imports/{job_id}/rejects.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


def job_of(response: object) -> int:
    location = response.headers["location"]  # type: ignore[attr-defined]
    found = re.fullmatch(r"/imports/(\d+)", location)
    assert found, location
    return int(found.group(1))


def test_uploads_import_in_the_worker_and_the_page_tells_the_database_truth(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    sign_in(client, tenant)
    r = upload(client, SHOPIFY_CUSTOMERS.encode(), "customers", "shopify", "customers.csv")
    assert r.status_code == 303  # type: ignore[attr-defined]
    job_id = job_of(r)
    waiting = client.get(f"/imports/{job_id}")
    assert "Waiting to start" in waiting.text
    assert '<meta http-equiv="refresh" content="2">' in waiting.text
    assert count(db, Member) == 0  # nothing imported before the worker runs

    assert drain(sessions, settings) >= 1
    page = client.get(f"/imports/{job_id}")
    assert "Done" in page.text and 'http-equiv="refresh"' not in page.text
    shown = counts_on(page.text)
    assert shown == {"read": 6, "created": 3, "updated": 0, "unchanged": 0, "rejected": 3}
    assert count(db, Member, Member.merchant_id == tenant.merchant_id) == shown["created"]
    assert count(db, ImportReject, ImportReject.job_id == job_id) == shown["rejected"]
    assert count(db, ImportFileChunk) == 0  # the upload is gone once imported
    assert "not a valid email: &#39;not-an-email&#39;" in page.text

    report = report_of(client, job_id)
    assert report[0][:4] == ["Line", "Reason", "Customer ID", "First Name"]
    assert [(row[0], row[1], row[2], row[5]) for row in report[1:]] == [
        ("4", "not a valid email: 'not-an-email'", "'7003", "not-an-email"),
        ("5", "not a valid phone number: '12345'", "'7004", "raj@example.in"),
        ("7", "Total Spent: not an amount: '12.3.4'", "'7006", "ivy@example.hk"),
    ]

    # The same report in Chinese: the reasons in the reader's language, the cells as they were.
    client.post("/language", data={"locale": "zh_Hans", "csrf_token": csrf_of(page)})
    zh = report_of(client, job_id)
    assert zh[0][:2] == ["行号", "原因"]
    assert zh[1][1] == "电子邮箱无效：'not-an-email'"
    assert zh[3][1] == "Total Spent：不是金额：'12.3.4'"
    assert "导入" in client.get(f"/imports/{job_id}").text

    # Orders saved by Excel in Chinese (GBK), format told from the header.
    r = upload(client, GBK_ORDERS.encode("gbk"), "orders", "auto", "订单.csv")
    orders_job = job_of(r)
    drain(sessions, settings)
    page = client.get(f"/imports/{orders_job}")
    shown = counts_on(page.text)
    assert shown == {
        "read": 3,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 2,
        "lines_written": 2,
        "members_created": 0,
    }
    assert count(db, Order, Order.merchant_id == tenant.merchant_id) == 1
    names = db.scalars(select(OrderLine.name).order_by(OrderLine.line_no)).all()
    assert names == ["铁观音 乌龙茶", "紫砂杯"]
    job = db.get(ImportJob, orders_job)
    assert job is not None and (job.encoding, job.format) == ("gb18030", "generic")
    rows = report_of(client, orders_job)
    assert [(row[0], row[2], row[5]) for row in rows[1:]] == [
        ("4", "G-2", "龙井"),
        ("5", "G-3", "普洱"),
    ]
    assert rows[1][1] == "订单 G-2：电子邮箱无效：'新客户@example'"
    assert rows[2][1] == "订单第 1 行商品：数量须大于 0，不能是 -1"


def test_a_utf8_file_with_a_byte_order_mark_reads_its_first_column(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    sign_in(client, tenant)
    r = upload(client, BOM_MEMBERS.encode("utf-8-sig"), "customers", "auto", "members.csv")
    job_id = job_of(r)
    drain(sessions, settings)
    assert counts_on(client.get(f"/imports/{job_id}").text)["created"] == 2
    db.rollback()
    people = db.execute(
        select(Member.first_name, Member.last_name, Member.phone, Member.funnel_stage).order_by(
            Member.id
        )
    ).all()
    assert people == [
        ("悦", "周", "+8613900001111", "member"),
        ("Léa", "Dubois", "+8613900002222", "user"),
    ]
    job = db.get(ImportJob, job_id)
    assert job is not None and (job.encoding, job.format) == ("utf-8", "generic")


def test_files_that_cannot_be_read_are_refused_with_nothing_stored(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    sign_in(client, tenant)
    latin = "external_id,email,phone,first_name\nx-1,a@example.com,,Zoë Müller\n".encode("cp1252")
    cases = [
        (b"PK\x03\x04" + b"\x00" * 200, "is an Excel workbook, not a CSV file"),
        ("external_id,email\n".encode("utf-16"), "is UTF-16 text; save it as CSV UTF-8"),
        (b"order_id,when\n1,2\n", "wrong header, missing column(s): name, placed_at"),
        (b"", "the file is empty"),
    ]
    for data, words in cases:
        r = client.post(
            "/imports",
            data={
                "csrf_token": csrf_of(client.get("/imports")),
                "kind": "orders",
                "format": "auto",
            },
            files={"file": ("x.csv", data, "text/csv")},
        )
        assert r.status_code == 422, data
        assert words in r.text.replace("&#39;", "'"), (words, r.text[-2000:])
    # A Western file whose bytes are neither UTF-8 nor GBK is refused, naming the line.
    r = upload(client, latin, "customers", "generic")
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "neither UTF-8 nor GB18030 (GBK) text: unreadable characters on line 2" in r.text  # type: ignore[attr-defined]
    assert (count(db, ImportJob), count(db, ImportFileChunk)) == (0, 0)


@pytest.fixture
def small_limit_client(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"import_max_upload_mb": 1})
    app = create_app(limited, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        yield c


def test_an_upload_over_the_limit_is_refused_and_nothing_is_stored(
    small_limit_client: TestClient, tenant: Tenant, db: Session
) -> None:
    client = small_limit_client
    sign_in(client, tenant)
    row = "x-{n},a{n}@example.com,,Ann\n"
    body = "external_id,email,phone,first_name\n" + "".join(row.format(n=n) for n in range(60_000))
    assert 1.5 * 2**20 < len(body) < 2 * 2**20
    r = upload(client, body.encode(), "customers", "generic")
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "the most an upload may be is 1 MB" in r.text  # type: ignore[attr-defined]
    # Past what any form may send (20 MB, or the upload limit and a margin if larger), the
    # body is not even parsed: a page says so, in the layout.
    big = b"external_id,email,phone\n" + b"x" * (21 << 20)
    r = upload(client, big, "customers", "generic")
    assert r.status_code == 413  # type: ignore[attr-defined]
    assert "The file is too large" in r.text  # type: ignore[attr-defined]
    assert (count(db, ImportJob), count(db, ImportFileChunk), count(db, Member)) == (0, 0, 0)


def test_exports_and_reports_neutralise_formula_cells(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    with transaction(sessions) as s:
        members.create_member(
            s,
            tenant.merchant_id,
            MemberCreate(
                first_name='=HYPERLINK("http://evil.example","x")',
                last_name="@SUM(1+1)",
                phone="+8613800138000",
                email="mei@example.com",
            ),
        )
    sign_in(client, tenant)
    r = client.get("/exports/members.csv")
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert (rows[0]["first_name"], rows[0]["last_name"], rows[0]["phone"]) == (
        '\'=HYPERLINK("http://evil.example","x")',
        "'@SUM(1+1)",
        "'+8613800138000",
    )
    api = client.get("/api/v1/exports/members.csv", headers=tenant.headers)
    api_rows = list(csv.DictReader(io.StringIO(api.text)))
    assert api_rows[0]["last_name"] == "'@SUM(1+1)"
    assert client.get("/exports/orders.csv").text.startswith("\ufefforder_id,placed_at")

    # The export imports into another merchant with the names as they were.
    imported = client.post(
        "/api/v1/imports/customers?format=generic",
        files={"file": ("members.csv", r.content, "text/csv")},
        headers=other_tenant.headers,
    )
    assert imported.json()["created"] == 1
    db.rollback()
    copy = db.scalars(select(Member).where(Member.merchant_id == other_tenant.merchant_id)).one()
    assert (copy.first_name, copy.last_name, copy.phone) == (
        '=HYPERLINK("http://evil.example","x")',
        "@SUM(1+1)",
        "+8613800138000",
    )

    # A refused row's cells in the report are neutralised too.
    bad = "external_id,email,phone,first_name\n=cmd|' /C calc'!A0,not-an-email,,-2+3\n"
    job_id = job_of(upload(client, bad.encode(), "customers", "generic"))
    drain(sessions, settings)
    report = report_of(client, job_id)
    assert report[1] == [
        "2",
        "not a valid email: 'not-an-email'",
        "'=cmd|' /C calc'!A0",
        "not-an-email",
        "",
        "'-2+3",
    ]


def test_clerks_are_refused_and_another_merchants_import_is_not_found(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    sign_in(client, tenant)
    job_id = job_of(upload(client, SHOPIFY_CUSTOMERS.encode(), "customers", "shopify", "alpha.csv"))
    drain(sessions, settings)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/imports"))})

    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    home = client.get("/dashboard")
    assert 'href="/imports"' not in home.text
    token = csrf_of(home)
    for path in (
        "/imports",
        f"/imports/{job_id}",
        f"/imports/{job_id}/rejects.csv",
        "/exports/members.csv",
        "/exports/orders.csv",
    ):
        assert client.get(path).status_code == 403, path
    r = client.post(
        "/imports",
        data={"csrf_token": token, "kind": "customers", "format": "auto"},
        files={"file": ("x.csv", SHOPIFY_CUSTOMERS.encode(), "text/csv")},
    )
    assert r.status_code == 403
    assert count(db, ImportJob) == 1
    client.post("/logout", data={"csrf_token": token})

    sign_in(client, other_tenant)
    listing = client.get("/imports")
    assert listing.status_code == 200 and "alpha.csv" not in listing.text
    assert client.get(f"/imports/{job_id}").status_code == 404
    assert client.get(f"/imports/{job_id}/rejects.csv").status_code == 404
    exported = client.get("/exports/members.csv").text
    assert "mei.chen@example.com" not in exported
