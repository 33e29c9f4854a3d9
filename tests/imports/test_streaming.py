"""Memory stays flat in file size: the peak for 200k lines is that of 50k lines, not 4x."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from bench.imports import generate
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.imports.runner import run_import
from tests.conftest import Tenant

BOUND = 40 * 2**20  # bytes traced at the peak, whatever the file size


def peak_import(sessions: sessionmaker[Session], tenant: Tenant, file: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with transaction(sessions) as s, file.open("rb") as f:
            result = run_import(s, tenant.merchant_id, "orders", f, commit_each_batch=True)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result.lines_written, peak


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_memory_does_not_grow_with_the_file(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    generate(small, 50_000, members=5_000, seed=1)
    generate(large, 200_000, members=5_000, seed=2)
    lines_small, peak_small = peak_import(sessions, tenant, small)
    lines_large, peak_large = peak_import(sessions, other_tenant, large)
    assert (lines_small, lines_large) == (50_000, 200_000)
    assert peak_large < BOUND
    assert peak_large < peak_small * 1.5  # four times the file, not four times the memory
