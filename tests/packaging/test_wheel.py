"""The wheel, installed the way an operator installs it (not editable), serves every kind of page.

``.ci/run`` runs the same check as its own step before the suite (and says so with
``PATRON_WHEEL_CHECKED=1``, so the suite does not build the wheel a second time).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.packaging.check_wheel import BuildImpossible, check


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_serves_pages_and_api(tmp_path: Path) -> None:
    if os.environ.get("PATRON_WHEEL_CHECKED") == "1":
        pytest.skip("checked by .ci/run's wheel step before the suite")
    try:
        lines = check(tmp_path)
    except BuildImpossible as exc:  # skipped outside CI, a failure in CI
        need_service(str(exc))
        raise
    assert lines == [
        lines[0],  # the wheel's file name
        "installed into a fresh venv; patron imports from the wheel",
        "dashboard sign-in page and its static files: 200",
        "sign-in page in Chinese: 200, translated",
        "owner signs in, dashboard overview: 200",
        "portal sign-in page with a bad link: 404, a page",
        "API: 401 without a key, 200 with one, OpenAPI 200",
    ]
    assert lines[0].startswith("built patron-0.1.0-py3-none-any.whl")
