"""Member search by tag and by part of an email (issue 10 item 10), through the API and the
dashboard's members page, on SQLite and PostgreSQL; ``%`` and ``_`` are plain characters."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.web.helpers import sign_in

PEOPLE: list[dict[str, Any]] = [
    {
        "first_name": "Carol",
        "last_name": "Smith",
        "phone": "13812345678",
        "email": "Carol@Example.com",
        "tags": ["VIP-Gold", "oolong"],
    },
    {
        "first_name": "Dan",
        "last_name": "Wu",
        "phone": "13998765432",
        "email": "dan_wu@shop.cn",
        "tags": ["student"],
    },
    {
        "first_name": "Eve",
        "last_name": "Lin",
        "phone": "13700001111",
        "email": "eve100%@tea.net",
        "tags": ["vip"],
    },
]


def _people(client: TestClient, tenant: Tenant) -> dict[str, int]:
    made = {}
    for person in PEOPLE:
        r = client.post("/api/v1/members", json=person, headers=tenant.headers)
        assert r.status_code == 201, r.text
        made[person["first_name"]] = r.json()["id"]
    return made


def _found(client: TestClient, tenant: Tenant, q: str) -> list[int]:
    r = client.get("/api/v1/members", params={"q": q}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()["items"]]


def test_api_finds_by_tag_exact_any_case_and_by_prefix(client: TestClient, tenant: Tenant) -> None:
    ids = _people(client, tenant)
    carol, dan, eve = ids["Carol"], ids["Dan"], ids["Eve"]
    assert _found(client, tenant, "oolong") == [carol]
    assert _found(client, tenant, "OOLONG") == [carol]
    assert _found(client, tenant, "vip-gold") == [carol]
    # a tag prefix: "vip" is Eve's tag exactly and the start of Carol's
    assert _found(client, tenant, "vip") == [eve, carol]
    assert _found(client, tenant, "stud") == [dan]
    # not a substring of the middle of a tag
    assert _found(client, tenant, "gold") == []


def test_api_finds_by_part_of_an_email(client: TestClient, tenant: Tenant) -> None:
    ids = _people(client, tenant)
    carol, dan = ids["Carol"], ids["Dan"]
    assert _found(client, tenant, "carol@") == [carol]
    assert _found(client, tenant, "CAROL@EXAMPLE") == [carol]
    assert _found(client, tenant, "example.com") == [carol]
    assert _found(client, tenant, "carol") == [carol]
    assert _found(client, tenant, "shop.cn") == [dan]
    assert _found(client, tenant, "@nowhere.org") == []


def test_like_wildcards_in_a_query_are_plain_characters(client: TestClient, tenant: Tenant) -> None:
    ids = _people(client, tenant)
    # each of these matched every member when % and _ reached LIKE unescaped
    assert _found(client, tenant, "%") == [ids["Eve"]]  # only Eve's email has a '%'
    assert _found(client, tenant, "_") == [ids["Dan"]]  # only Dan's email has an '_'
    assert _found(client, tenant, "%@%") == []
    assert _found(client, tenant, "c_rol") == []
    assert _found(client, tenant, "100%@") == [ids["Eve"]]
    assert _found(client, tenant, "dan_wu") == [ids["Dan"]]


def test_search_keeps_phone_digits_name_and_id(client: TestClient, tenant: Tenant) -> None:
    ids = _people(client, tenant)
    assert _found(client, tenant, "5678") == [ids["Carol"]]
    assert _found(client, tenant, "13998765432") == [ids["Dan"]]
    assert _found(client, tenant, "lin") == [ids["Eve"]]
    assert _found(client, tenant, str(ids["Dan"])) == [ids["Dan"]]


def test_search_never_crosses_merchants(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    _people(client, tenant)
    assert _found(client, other_tenant, "vip") == []
    assert _found(client, other_tenant, "example.com") == []


def test_members_page_finds_by_tag_and_partial_email(client: TestClient, tenant: Tenant) -> None:
    _people(client, tenant)
    sign_in(client, tenant)
    by_tag = client.get("/members", params={"q": "Oolong"})
    assert by_tag.status_code == 200
    assert "Carol Smith" in by_tag.text
    assert "Dan Wu" not in by_tag.text and "Eve Lin" not in by_tag.text
    by_email = client.get("/members", params={"q": "shop.cn"})
    assert "Dan Wu" in by_email.text
    assert "Carol Smith" not in by_email.text and "Eve Lin" not in by_email.text
    wildcard = client.get("/members", params={"q": "%"})
    assert "Eve Lin" in wildcard.text
    assert "Carol Smith" not in wildcard.text and "Dan Wu" not in wildcard.text
