"""Every CSV Patron writes neutralises formula cells (issue 11; ADR 0665).

Exports and import reject reports are proven end to end in tests/web/test_import_pages.py; this
file covers the campaign results download and the analytics chart downloads, and guards the
source tree: no CSV is written except through ``patron.core.csv_safe``."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from patron.analytics.figures import Figure
from patron.analytics.insights import csv_of
from patron.web.dashboard.campaign_view import results_csv

PAYLOADS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-1+1"]
NEUTRALISED = ["'" + p for p in PAYLOADS]
SRC = Path(__file__).resolve().parents[1] / "src" / "patron"


def test_analytics_chart_csv_neutralises_label_cells_and_keeps_numbers() -> None:
    rows = pd.DataFrame(
        {
            "segment": [*PAYLOADS, "Tea lovers"],
            "members": [1, 2, 3, 4, 5],
            "rate": [0.5, None, -0.25, 1.0, 0.125],
        }
    )
    figure = Figure(key="k", title="t", chart=Markup(""), rows=rows)
    parsed = list(csv.reader(io.StringIO(csv_of(figure))))
    assert parsed == [
        ["segment", "members", "rate"],
        [NEUTRALISED[0], "1", "0.5"],
        [NEUTRALISED[1], "2", ""],
        [NEUTRALISED[2], "3", "-0.25"],
        [NEUTRALISED[3], "4", "1.0"],
        ["Tea lovers", "5", "0.125"],
    ]


def test_campaign_results_csv_goes_through_the_safe_writer() -> None:
    group = {"members": PAYLOADS[0], "buyers": PAYLOADS[1], "revenue_minor": PAYLOADS[2]}
    results = {
        "treated": group,
        "holdout": {"members": 10, "buyers": 2, "revenue_minor": -300},
        "repurchase_rate": None,
        "revenue_per_member": None,
    }
    parsed = list(csv.reader(io.StringIO(results_csv(results))))
    assert parsed[1] == ["treated", *NEUTRALISED[:3], "", ""]
    assert parsed[2] == ["holdout", "10", "2", "-300", "", ""]


def test_no_csv_is_written_around_the_safe_writer() -> None:
    """A new ``csv.writer``/``DictWriter``/``to_csv`` outside csv_safe (and the one guarded
    pandas call in csv_of) would write formula cells as they are."""
    pattern = re.compile(r"csv\.writer\(|DictWriter\(|\.to_csv\(")
    found = sorted(
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    )
    assert [f.split(":")[0] for f in found] == ["analytics/insights.py", "core/csv_safe.py"]
