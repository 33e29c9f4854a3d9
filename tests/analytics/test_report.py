"""``patron report``: one self-contained HTML file with the hand-built shop's figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from patron.analytics.lifetime import clear_cache
from patron.analytics.report import write_report
from patron.cli import app
from patron.core.config import Settings
from tests.conftest import Tenant
from tests.web.analytics_data import seed_shop

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""", re.IGNORECASE)


def test_report_is_self_contained_with_exact_figures(
    settings: Settings, tenant: Tenant, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    clear_cache()
    seed_shop(sessions, tenant)
    mine = settings.model_copy(update={"analytics_path": str(tmp_path / "a.duckdb")})
    out = tmp_path / "report.html"
    write_report(mine, out, "alpha", "2026-01-01", "2026-03-31")
    html = out.read_text(encoding="utf-8")
    assert URL.findall(html) == []  # no http(s) or protocol-relative references at all
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "<style>" in html and "--brand:" in html  # the stylesheet travels inline
    assert "Alpha · Analytics report" in html
    for key, value in {
        "customers": "3",
        "repurchase_rate": "66.7%",
        "aov": "CN¥51.67",
        "pareto_share": "54.8%",
    }.items():
        part = html.split(f'id="kpi-{key}"', 1)[1]
        assert part.split('class="value">', 1)[1].startswith(value), key
    assert html.count('<svg class="chart') >= 9
    # Median days to a second purchase (Kaplan–Meier: Ann 5, Bo 40, Cai not yet after 48).
    assert "Cohort retention" in html and "<dd>40</dd>" in html
    assert "Revenue from repeat purchases" in html and "1–31 Mar vs 1–28 Feb" in html.replace(
        "\u2009", ""
    )


def test_report_in_chinese_and_cli_errors(
    settings: Settings,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_cache()
    seed_shop(sessions, tenant)
    mine = settings.model_copy(update={"analytics_path": str(tmp_path / "a.duckdb")})
    out = tmp_path / "zh.html"
    write_report(mine, out, "alpha", "2026-01-01", "2026-03-31", locale="zh_Hans")
    html = out.read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in html and "复购率" in html and "¥51.67" in html
    monkeypatch.setenv("PATRON_DATABASE_URL", mine.database_url)
    monkeypatch.setenv("PATRON_ANALYTICS_PATH", mine.analytics_path)
    from patron.core.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(app, ["report", "--out", str(tmp_path / "x.html"), "--merchant", "nope"])
        assert r.exit_code == 1 and "no merchant with slug 'nope'" in r.stderr
        r = runner.invoke(app, ["report", "--out", str(tmp_path / "x.html"), "--from", "soon"])
        assert r.exit_code == 1 and "dates are YYYY-MM-DD" in r.stderr
        r = runner.invoke(
            app,
            [
                "report",
                "--out",
                str(tmp_path / "cli.html"),
                "--merchant",
                "alpha",
                "--from",
                "2026-01-01",
                "--to",
                "2026-03-31",
            ],
        )
        assert r.exit_code == 0, r.output
        assert "66.7%" in (tmp_path / "cli.html").read_text(encoding="utf-8")
    finally:
        get_settings.cache_clear()
