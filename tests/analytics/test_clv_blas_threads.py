"""CLV fits run with one BLAS thread (ADR 0921): idle OpenBLAS threads spinning between the
fits' small matrix products made them 2.5-30x slower on a 2-core machine."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from patron.analytics.clv import _base


def _blas_threads() -> set[int]:
    return {int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_a_fit_runs_with_one_blas_thread_and_gives_the_threads_back() -> None:
    before = _blas_threads()
    assert before  # numpy's BLAS is there to limit
    seen: list[set[int]] = []

    def loglik_grad(p: np.ndarray) -> tuple[float, np.ndarray]:
        seen.append(_blas_threads())
        return -float((p - 2.0) @ (p - 2.0)), -2.0 * (p - 2.0)

    res = _base.maximise("test", ["a", "b"], loglik_grad, 1.0, [1.0, 3.0])
    assert seen and all(threads <= {1} for threads in seen)
    assert _blas_threads() == before
    assert np.allclose(list(res.params.values()), [2.0, 2.0])


def test_the_library_default_is_kept_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_base, "BLAS_THREADS", None)
    default = _blas_threads()
    seen: list[set[int]] = []

    def loglik_grad(p: np.ndarray) -> tuple[float, np.ndarray]:
        seen.append(_blas_threads())
        return -float((p - 2.0) @ (p - 2.0)), -2.0 * (p - 2.0)

    _base.maximise("test", ["a", "b"], loglik_grad, 1.0, [1.0, 3.0])
    assert seen and all(threads == default for threads in seen)
