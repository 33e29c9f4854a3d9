"""Memory stays flat in file size: the peak for 4x the lines is that of 1x, not 4x.

Small batches (250 orders) give both files many batches, so the test measures what grows per
batch or per file (caches, look-up maps, result lists), in seconds rather than minutes; the
full-size figures (1,000,000 lines, the child's peak RSS) are bench/imports.py's.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from bench.imports import generate
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.imports.runner import run_import
from tests.conftest import Tenant

BOUND = 4 * 2**20  # bytes traced at the peak, whatever the file size (about 1-2 MiB)


def peak_import(sessions: sessionmaker[Session], tenant: Tenant, file: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with transaction(sessions) as s, file.open("rb") as f:
            result = run_import(
                s, tenant.merchant_id, "orders", f, commit_each_batch=True, batch_size=250
            )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result.lines_written, peak


def test_memory_does_not_grow_with_the_file(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    generate(small, 5_000, members=1_000, seed=1)
    generate(large, 20_000, members=1_000, seed=2)
    lines_small, peak_small = peak_import(sessions, tenant, small)
    lines_large, peak_large = peak_import(sessions, other_tenant, large)
    assert (lines_small, lines_large) == (5_000, 20_000)
    assert peak_large < BOUND
    assert peak_large < peak_small * 1.5  # four times the file, not four times the memory
