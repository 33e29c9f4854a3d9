"""Wallet cards on SQLite and PostgreSQL: the signed .pkpass, the PassKit web service that keeps
it current, the Google Wallet save link, and the dashboard's settings page (ADR 1330)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import zipfile
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout.members import membership_qr_token
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger.service import EntryInfo, earn_points
from patron.members.models import Member
from patron.wallet import service as wallet
from patron.wallet.models import WalletPass, WalletRegistration, WalletSettings
from patron.worker import TASKS
from tests.conftest import Tenant
from tests.wallet.certs import make_chain, make_rsa_key
from tests.web.helpers import add_staff, csrf_of, seed_loyalty, seed_member, sign_in, sign_in_as
from tests.web.test_portal_loyalty import _portal

PASS_TYPE = "pass.test.patron"


def _set_up(client: TestClient, tenant: Tenant, *, google: bool = True) -> dict[str, Any]:
    """The owner fills in the wallet settings page; returns the chain and the Google key."""
    chain = make_chain(PASS_TYPE)
    google_pem, google_public = make_rsa_key()
    sign_in(client, tenant)
    page = client.get("/wallet-settings")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page),
        "apple_pass_type_id": PASS_TYPE,
        "apple_team_id": "TEAM123456",
        "apple_certificate": chain.cert_pem,
        "apple_key": chain.key_pem,
        "apple_wwdr": chain.ca_pem,
    }
    if google:
        form |= {
            "google_issuer_id": "3388000000012345678",
            "google_service_account": "wallet@shop.iam.gserviceaccount.com",
            "google_key": google_pem,
        }
    r = client.post("/wallet-settings", data=form, follow_redirects=False)
    assert r.status_code == 303
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/dashboard"))})
    client.cookies.clear()
    return {"chain": chain, "google_public": google_public}


def _pkpass(client: TestClient) -> zipfile.ZipFile:
    r = client.get("/portal/card/apple.pkpass")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apple.pkpass"
    return zipfile.ZipFile(io.BytesIO(r.content))


def _verify(archive: zipfile.ZipFile, ca_pem: str, tmp: Path) -> None:
    """Every manifest hash matches its file, and openssl checks the detached signature of
    manifest.json up to the test's WWDR CA."""
    names = set(archive.namelist())
    assert {"pass.json", "manifest.json", "signature", "icon.png", "logo.png"} <= names
    manifest = json.loads(archive.read("manifest.json"))
    assert set(manifest) == names - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(archive.read(name)).hexdigest() == digest
    (tmp / "manifest.json").write_bytes(archive.read("manifest.json"))
    (tmp / "signature").write_bytes(archive.read("signature"))
    (tmp / "ca.pem").write_text(ca_pem)
    command = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER",
        "-in", str(tmp / "signature"), "-content", str(tmp / "manifest.json"),
        "-CAfile", str(tmp / "ca.pem"), "-purpose", "any", "-out", str(tmp / "out"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp / "out").read_bytes() == archive.read("manifest.json")
    # A changed manifest no longer verifies.
    (tmp / "manifest.json").write_bytes(archive.read("manifest.json") + b" ")
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode != 0


def test_pkpass_is_signed_and_shows_the_members_card(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> None:
    made = _set_up(client, tenant)
    member_id = seed_member(sessions, tenant, order_ref=None, first="悦", last="周")
    seed_loyalty(sessions, tenant, member_id)
    _portal(client, sessions, tenant, member_id, settings)
    card = client.get("/portal/card")
    assert 'href="/portal/card/apple.pkpass"' in card.text
    assert 'href="/portal/card/google"' in card.text
    archive = _pkpass(client)
    _verify(archive, made["chain"].ca_pem, tmp_path)
    body = json.loads(archive.read("pass.json"))
    with sessions() as s:
        member = s.get(Member, member_id)
        assert member is not None
        token = membership_qr_token(member, settings.secret_key)
        row = s.scalars(select(WalletPass)).one()
    assert body["passTypeIdentifier"] == PASS_TYPE
    assert body["teamIdentifier"] == "TEAM123456"
    assert body["serialNumber"] == row.serial and row.serial.startswith(f"{tenant.merchant_id}-")
    assert body["webServiceURL"] == settings.base_url.rstrip("/") + "/api/wallet"
    assert body["authenticationToken"] == wallet.auth_token(settings.secret_key, row.serial)
    assert body["organizationName"] == "Alpha"
    store = body["storeCard"]
    assert store["primaryFields"] == [{"key": "points", "label": "Points", "value": 1234}]
    assert store["secondaryFields"] == [
        {"key": "member", "label": "Member", "value": "周悦"},
        {"key": "tier", "label": "Tier", "value": "Silver"},
    ]
    assert store["auxiliaryFields"][0] == {
        "key": "stored",
        "label": "Stored value",
        "value": 550.0,
        "currencyCode": "CNY",
    }
    assert store["auxiliaryFields"][1]["value"] == f"{member_id:06d}"
    assert body["barcodes"][0]["message"] == token
    assert body["barcodes"][0]["format"] == "PKBarcodeFormatQR"
    # A second download is the same pass (one row per member).
    again = json.loads(_pkpass(client).read("pass.json"))
    assert again["serialNumber"] == row.serial


def test_pass_in_chinese_for_a_chinese_reader(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    _set_up(client, tenant, google=False)
    member_id = seed_member(sessions, tenant, order_ref=None, locale="zh_Hans")
    seed_loyalty(sessions, tenant, member_id)
    _portal(client, sessions, tenant, member_id, settings)
    card = client.get("/portal/card")
    assert "/portal/card/google" not in card.text  # Google is not set up
    body = json.loads(_pkpass(client).read("pass.json"))
    assert body["description"] == "会员卡"
    assert body["storeCard"]["primaryFields"][0]["label"] == "积分"
    assert client.get("/portal/card/google").status_code == 404


def test_web_service_registers_lists_changes_and_serves_the_latest_pass(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    _set_up(client, tenant, google=False)
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    _portal(client, sessions, tenant, member_id, settings)
    body = json.loads(_pkpass(client).read("pass.json"))
    serial, token = body["serialNumber"], body["authenticationToken"]
    base = "/api/wallet/v1"
    device = "a1b2c3d4e5"
    reg = f"{base}/devices/{device}/registrations/{PASS_TYPE}/{serial}"
    good = {"Authorization": f"ApplePass {token}"}
    push = {"pushToken": "f" * 64}
    assert client.post(reg, json=push).status_code == 401
    assert (
        client.post(reg, json=push, headers={"Authorization": "ApplePass x" * 3}).status_code == 401
    )
    assert client.post(reg, json=push, headers=good).status_code == 201
    assert client.post(reg, json=push, headers=good).status_code == 200
    # Another pass type, or a made-up serial: not found.
    assert (
        client.post(reg.replace(PASS_TYPE, "pass.other"), json=push, headers=good).status_code
        == 404
    )
    assert (
        client.post(
            reg.replace(serial, f"{other_tenant.merchant_id}-00"), json=push, headers=good
        ).status_code
        == 404
    )

    listed = client.get(f"{base}/devices/{device}/registrations/{PASS_TYPE}")
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [serial]
    tag = listed.json()["lastUpdated"]
    assert (
        client.get(
            f"{base}/devices/{device}/registrations/{PASS_TYPE}?passesUpdatedSince={tag}"
        ).status_code
        == 204
    )
    assert client.get(f"{base}/devices/unknown/registrations/{PASS_TYPE}").status_code == 204

    latest = f"{base}/passes/{PASS_TYPE}/{serial}"
    assert client.get(latest).status_code == 401
    first = client.get(latest, headers=good)
    assert first.status_code == 200
    modified = first.headers["Last-Modified"]
    assert client.get(latest, headers=good | {"If-Modified-Since": modified}).status_code == 304

    # Points change: the worker task moves the pass on and asks the push service.
    pushed: list[tuple[str, str]] = []

    class Recorder:
        def push(self, pass_type_id: str, push_token: str) -> bool:
            pushed.append((pass_type_id, push_token))
            return True

    clock.advance(timedelta(minutes=5))
    with transaction(sessions) as s:
        earn_points(s, tenant.merchant_id, member_id, 66, EntryInfo("manual", "Gift", "test"))
    wallet.set_push_service(Recorder())
    try:
        with transaction(sessions) as s:
            assert wallet.follow_events(s) >= 1
    finally:
        wallet.set_push_service(wallet.NoPush())
    assert pushed == [(PASS_TYPE, "f" * 64)]
    assert ("wallet.follow_events", wallet.follow_events_task) in TASKS
    changed = client.get(
        f"{base}/devices/{device}/registrations/{PASS_TYPE}?passesUpdatedSince={tag}"
    )
    assert changed.status_code == 200 and changed.json()["serialNumbers"] == [serial]
    assert int(changed.json()["lastUpdated"]) > int(tag)
    fresh = client.get(latest, headers=good | {"If-Modified-Since": modified})
    assert fresh.status_code == 200
    assert parsedate_to_datetime(fresh.headers["Last-Modified"]) == parsedate_to_datetime(
        format_datetime(clock.now().replace(microsecond=0), usegmt=True)
    )
    updated = json.loads(zipfile.ZipFile(io.BytesIO(fresh.content)).read("pass.json"))
    assert updated["storeCard"]["primaryFields"][0]["value"] == 1300
    with sessions() as s:
        assert s.scalars(select(WalletRegistration.pushed_at)).one() == clock.now()

    # The device log is accepted; unregistering needs the token too.
    assert client.post(f"{base}/log", json={"logs": ["x"]}).status_code == 200
    assert client.delete(reg).status_code == 401
    assert client.delete(reg, headers=good).status_code == 200
    assert client.get(f"{base}/devices/{device}/registrations/{PASS_TYPE}").status_code == 204


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_google_save_link_is_signed_with_the_service_account_key(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    made = _set_up(client, tenant)
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    _portal(client, sessions, tenant, member_id, settings)
    r = client.get("/portal/card/google", follow_redirects=False)
    assert r.status_code == 303
    link = r.headers["location"]
    assert link.startswith("https://pay.google.com/gp/v/save/")
    jwt = link.removeprefix("https://pay.google.com/gp/v/save/")
    header, claims, signature = jwt.split(".")
    made["google_public"].verify(
        _b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(InvalidSignature):
        made["google_public"].verify(
            _b64decode(signature),
            f"{header}.{claims}x".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT"}
    body = json.loads(_b64decode(claims))
    assert body["iss"] == "wallet@shop.iam.gserviceaccount.com"
    assert body["aud"] == "google" and body["typ"] == "savetowallet"
    assert body["origins"] == [settings.base_url.rstrip("/")]
    (obj,) = body["payload"]["loyaltyObjects"]
    with sessions() as s:
        member = s.get(Member, member_id)
        assert member is not None
        serial = s.scalars(select(WalletPass.serial)).one()
        token = membership_qr_token(member, settings.secret_key)
    assert obj["id"] == f"3388000000012345678.{serial}"
    assert obj["classId"] == "3388000000012345678.patron-membership"
    assert obj["accountName"] == "Mei Chen" and obj["accountId"] == f"{member_id:06d}"
    assert obj["loyaltyPoints"] == {"label": "Points", "balance": {"int": 1234}}
    assert obj["barcode"]["value"] == token
    assert obj["textModulesData"] == [{"id": "tier", "header": "Tier", "body": "Silver"}]


def test_settings_page_keeps_secrets_write_only_and_refuses_bad_keys(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    made = _set_up(client, tenant)
    sign_in(client, tenant)
    page = client.get("/wallet-settings")
    assert "BEGIN PRIVATE KEY" not in page.text and "BEGIN CERTIFICATE" not in page.text
    assert page.text.count('data-secret="') == 4
    assert 'value="pass.test.patron"' in page.text
    # A key that is not the certificate's is refused; nothing changes.
    _other_pem, _pub = make_rsa_key()
    r = client.post(
        "/wallet-settings",
        data={
            "csrf_token": csrf_of(page),
            "apple_pass_type_id": "pass.changed",
            "apple_team_id": "TEAM123456",
            "apple_key": _other_pem,
        },
    )
    assert "does not belong to the pass certificate" in r.text
    with sessions() as s:
        row = s.scalars(select(WalletSettings)).one()
        assert row.apple_pass_type_id == PASS_TYPE
        assert row.credentials["apple_key"] == made["chain"].key_pem.strip()
    # Blank secrets keep the stored ones.
    client.post(
        "/wallet-settings",
        data={
            "csrf_token": csrf_of(page),
            "apple_pass_type_id": PASS_TYPE,
            "apple_team_id": "TEAM999999",
        },
    )
    with sessions() as s:
        row = s.scalars(select(WalletSettings)).one()
        assert row.apple_team_id == "TEAM999999"
        assert row.credentials["apple_certificate"] == made["chain"].cert_pem.strip()
        assert row.credentials["google_key"]
    # Another merchant's owner sees nothing of it.
    client.cookies.clear()
    sign_in(client, other_tenant)
    theirs = client.get("/wallet-settings")
    assert "pass.test.patron" not in theirs.text and 'data-secret="' not in theirs.text


def test_settings_page_is_for_managers(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    assert client.get("/wallet-settings", follow_redirects=False).status_code in (403, 404)


def test_no_pass_before_set_up(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    _portal(client, sessions, tenant, member_id, settings)
    assert "apple.pkpass" not in client.get("/portal/card").text
    assert client.get("/portal/card/apple.pkpass").status_code == 404
