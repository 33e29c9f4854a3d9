"""``make screenshots`` knows every page: each route with a path parameter has samples in the
demo shop (a new page without one fails here, not in a five-minute run)."""

from __future__ import annotations

from pathlib import Path

from patron.app import create_app
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory
from patron.core.migrate import upgrade
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig
from patron.devtools.gallery import Gallery, Shot
from patron.devtools.pages import SAMPLES, get_routes, page_name
from patron.devtools.stage import CLERK_EMAIL, prepare_stage
from patron.programs.config import Kind
from patron.tenancy import service as tenancy
from tests.conftest import START


def test_every_page_of_both_shells_has_its_samples_in_the_demo(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    settings = Settings(database_url=url, worker_in_process=False, base_url="http://x")
    cfg = DemoConfig(members=30, seed=42, months=3, now=START)
    run_demo(sessions, settings, cfg, "demo", if_empty=False, show_progress=False)
    app = create_app(settings, engine=engine, run_worker=False)

    parameterised = [r for s in ("dashboard", "portal") for r in get_routes(app, s) if "{" in r]
    assert sorted(r for r in parameterised if r not in SAMPLES) == []

    stage = prepare_stage(app, sessions, settings)
    assert stage.notes == []  # every route found a row (a segment and a draft were added)
    names = [p.name for p in stage.dashboard]
    assert len(names) == len(set(names))
    assert {"campaigns-campaign_id-draft", "campaigns-campaign_id-sent"} <= set(names)
    assert {f"programs-{kind.value}" for kind in Kind} <= set(names)
    assert [p.path for p in stage.portal][:3] == ["/portal", "/portal/orders", "/portal/profile"]
    assert not any(p.route.endswith((".csv", ".svg")) for p in stage.dashboard + stage.portal)
    with sessions() as s:
        clerk = tenancy.authenticate_staff(s, CLERK_EMAIL, stage.clerk_password)
        assert clerk.role == "clerk"
        s.rollback()
    # A clerk must open the pages of a clerk's navigation; the forms behind them may refuse.
    assert (stage.allowed("clerk", "/members"), stage.allowed("clerk", "/coupons/new")) == (
        True,
        False,
    )
    assert stage.allowed("owner", "/coupons/new")
    engine.dispose()


def test_page_names_and_the_gallery() -> None:
    assert page_name("/members/{member_id}/statement", {"member_id": 7}) == (
        "members-member_id-statement"
    )
    assert page_name("/programs/{kind}", {"kind": "points"}, several=True) == "programs-points"
    assert page_name("/till/receipt/{key}", {"key": "k1"}) == "till-receipt-key"
    assert page_name("/portal", {}) == "portal"
    gallery = Gallery(["owner"], ["en", "zh_Hans"])
    gallery.shots += [
        Shot("owner", "en", "members", "/members", file="en/owner/members.png", status=200),
        Shot("owner", "zh_Hans", "members", "/members", status=500, note="refused (FAILED)"),
    ]
    html = gallery.html()
    assert "<a href='en/owner/members.png'><img src='en/owner/members.png'" in html
    assert "<td class='bad'>500 refused (FAILED)</td>" in html
