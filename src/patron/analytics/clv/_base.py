"""Shared machinery for the maximum-likelihood fits of the CLV models.

Every model implements ``_loglik_grad(params, data)`` that returns the weighted total
log-likelihood and its gradient with respect to the *natural* parameters. :func:`maximise`
then optimises over log-parameters with L-BFGS-B (chain rule: d/dlog p = p * d/dp), minimising
the weighted *mean* negative log-likelihood so that tolerances do not depend on the data size.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

LogLikGrad = Callable[[FloatArray], tuple[float, FloatArray]]

# BLAS threads during a fit (None: the library's default, one per core). The fits' matrix
# products are small; with more than one OpenBLAS thread the idle threads spin between calls
# and, on a 2-core machine, made the fits 2.5-30x slower (ADR 0920, docs/benchmarks.md).
BLAS_THREADS: int | None = 1


@cache
def _thread_pools() -> ThreadpoolController:
    """The process's BLAS/OpenMP pools (found once: looking them up reads the loaded libraries)."""
    return ThreadpoolController()


@dataclass(frozen=True)
class FitResult:
    """Outcome of a maximum-likelihood fit.

    ``log_likelihood`` is the weighted *total* log-likelihood (the number papers report),
    ``n_obs`` the total weight (number of customers), ``iterations`` the L-BFGS-B iterations,
    ``gradient_norm`` the largest component of the (projected) gradient of the mean negative
    log-likelihood over log-parameters at the returned point. ``reason`` says why a fit is not
    ``converged`` (empty when it is): the gradient did not vanish, a parameter ran to the edge
    of its range, or the likelihood is flat in some direction (ADR 0508).
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    iterations: int
    converged: bool
    message: str
    n_obs: float
    function_evaluations: int = 0
    gradient_norm: float = 0.0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dictionary of the result."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "log_likelihood": float(self.log_likelihood),
            "iterations": int(self.iterations),
            "function_evaluations": int(self.function_evaluations),
            "converged": bool(self.converged),
            "message": self.message,
            "n_obs": float(self.n_obs),
            "gradient_norm": float(self.gradient_norm),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RFMData:
    """Validated (x, t_x, T, weights) arrays plus the distinct values of x.

    ``x_unique[x_index] == x``: special functions of x are evaluated once per distinct x.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray
    x_unique: FloatArray = field(repr=False)
    x_index: npt.NDArray[np.intp] = field(repr=False)

    @property
    def total_weight(self) -> float:
        """Sum of the weights (number of customers represented)."""
        return float(self.weights.sum())


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a 1-d float64 array, rejecting NaN and infinities."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def prepare_rfm(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> RFMData:
    """Validate RFM inputs and precompute the distinct frequencies."""
    xa = as_float_array(x, "x")
    ta = as_float_array(t_x, "t_x")
    Ta = as_float_array(T, "T")
    if not (xa.shape == ta.shape == Ta.shape):
        raise ValueError("x, t_x and T must have the same length")
    if xa.size == 0:
        raise ValueError("no customers to fit")
    if np.any(xa < 0) or np.any(xa != np.round(xa)):
        raise ValueError("x must be non-negative integers")
    if np.any(ta < 0) or np.any(ta > Ta + 1e-9):
        raise ValueError("need 0 <= t_x <= T")
    if np.any((xa == 0) & (ta != 0)):
        raise ValueError("t_x must be 0 when x is 0")
    wa = np.ones_like(xa) if weights is None else as_float_array(weights, "weights")
    if wa.shape != xa.shape or np.any(wa < 0):
        raise ValueError("weights must be non-negative and as long as x")
    x_unique, x_index = np.unique(xa, return_inverse=True)
    return RFMData(xa, ta, Ta, wa, x_unique, x_index.reshape(-1))


#: A fit counts as converged when the largest component of the projected gradient of the mean
#: negative log-likelihood over log-parameters (per customer) is at most this.
GRADIENT_TOLERANCE = 1e-7
_BOUND = 30.0
_NEWTON_STEPS = 8
_HESSIAN_STEP = 1e-4
# Polishing stops below this gradient (rounding level of a per-customer mean), and a failed
# step with an old Hessian only triggers a new one while the gradient is above _REFRESH_ABOVE.
_POLISH_TARGET = 1e-14
_REFRESH_ABOVE = 1e-10
#: Every parameter of these models is positive; an estimate below this sits on the edge of the
#: range: the likelihood still rises towards 0 (BG/NBD's ``a`` → 0: nobody ever drops out), so
#: the "estimate" is a limit the optimiser stopped on, not a maximum (ADR 0508).
PARAMETER_EDGE = 1e-6
#: Smallest over largest curvature (Hessian eigenvalues, log-parameters, per customer) below
#: which the likelihood counts as flat in some direction: the data cannot tell the parameters
#: apart (e.g. BG/NBD's ``a`` and ``b`` both drifting off while a/(a+b) stays put). Well-posed
#: fits on CDNOW and the grocery panel sit at 1e-5 and above; ridges at 1e-6 and below.
FLATNESS = 1e-6


def _projected(theta: FloatArray, grad: FloatArray) -> FloatArray:
    """The gradient with the components that push further out of an active bound removed."""
    out = grad.copy()
    out[(theta <= -_BOUND) & (grad > 0)] = 0.0
    out[(theta >= _BOUND) & (grad < 0)] = 0.0
    return out


def _hessian(grad_of: Callable[[FloatArray], FloatArray], theta: FloatArray) -> FloatArray:
    """Hessian by central differences of the analytic gradient, symmetrised."""
    k = theta.size
    hess = np.empty((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = _HESSIAN_STEP
        hess[:, j] = (grad_of(theta + step) - grad_of(theta - step)) / (2.0 * _HESSIAN_STEP)
    return 0.5 * (hess + hess.T)


def newton_polish(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    theta: FloatArray,
    steps: int = _NEWTON_STEPS,
) -> tuple[FloatArray, float, FloatArray, int]:
    """Newton steps from ``theta`` (the L-BFGS-B end point) until the gradient stops shrinking.

    The Hessian comes from central differences of the analytic gradient (2k gradient calls) and
    is reused while it works (a chord iteration: one call per step); it is recomputed once if a
    step fails while the gradient is still above ``_REFRESH_ABOVE``. Polishing stops at
    ``_POLISH_TARGET``. A step is taken only when the Hessian is positive definite, the step stays
    inside the bounds, the objective does not rise (beyond rounding) and the gradient norm
    falls; otherwise polishing stops. Returns ``(theta, f, grad, steps_taken)``.
    """
    f, g = objective(theta)
    taken = 0
    chol: FloatArray | None = None
    fresh = False
    while taken < steps and np.isfinite(f) and np.max(np.abs(g)) > _POLISH_TARGET:
        if np.any(np.abs(theta) >= _BOUND):
            break
        if chol is None:
            try:
                hess = _hessian(lambda t: objective(t)[1], theta)
                chol = np.asarray(np.linalg.cholesky(hess), dtype=np.float64)
            except np.linalg.LinAlgError:
                break
            fresh = True
        inner: FloatArray = np.asarray(np.linalg.solve(chol, g), dtype=np.float64)
        delta: FloatArray = -np.asarray(np.linalg.solve(chol.T, inner), dtype=np.float64)
        trial = theta + delta
        ok = bool(np.all(np.abs(trial) < _BOUND) and np.all(np.isfinite(trial)))
        if ok:
            f_new, g_new = objective(trial)
            rounding = 1e-13 * max(1.0, abs(f))
            ok = bool(f_new <= f + rounding and np.linalg.norm(g_new) < np.linalg.norm(g))
        if ok:
            theta, f, g = trial, f_new, g_new
            taken += 1
            fresh = False
        elif fresh or np.max(np.abs(g)) <= _REFRESH_ABOVE:
            break
        else:
            chol = None
    return theta, f, g, taken


def maximise(
    model: str,
    names: Sequence[str],
    loglik_grad: LogLikGrad,
    total_weight: float,
    initial: Sequence[float] | None = None,
    max_iter: int = 2000,
) -> FitResult:
    """Maximise ``loglik_grad`` over log-parameters: L-BFGS-B, then a Newton polish.

    L-BFGS-B with the analytic gradient gets close; it stops on a relative change of the
    objective, which on flat ridges (Pareto/NBD's ``s``/``beta``) can leave the gradient far
    from zero. A few Newton steps (Hessian from differences of the analytic gradient) then take
    the gradient down to rounding level. ``converged`` is judged on that gradient
    (:data:`GRADIENT_TOLERANCE`), not on L-BFGS-B's stopping message.
    """
    if BLAS_THREADS is None:
        return _maximise(model, names, loglik_grad, total_weight, initial, max_iter)
    with _thread_pools().limit(limits=BLAS_THREADS, user_api="blas"):
        return _maximise(model, names, loglik_grad, total_weight, initial, max_iter)


def _maximise(
    model: str,
    names: Sequence[str],
    loglik_grad: LogLikGrad,
    total_weight: float,
    initial: Sequence[float] | None,
    max_iter: int,
) -> FitResult:
    x0 = np.zeros(len(names)) if initial is None else np.log(np.asarray(initial, dtype=float))
    x0 = np.clip(x0, -_BOUND + 1.0, _BOUND - 1.0)
    scale = 1.0 / total_weight

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            ll, grad = loglik_grad(params)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(log_params)
        return -ll * scale, -grad * params * scale

    res = minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_BOUND, _BOUND)] * len(names),
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
    )
    theta, f, g, polished = newton_polish(objective, np.asarray(res.x, dtype=np.float64))
    gnorm = float(np.max(np.abs(_projected(theta, g)))) if np.isfinite(f) else float("inf")
    params = np.exp(theta)
    reason = fit_problem(names, params, gnorm, lambda t: objective(t)[1], theta)
    converged = not reason
    return FitResult(
        model=model,
        params={n: float(v) for n, v in zip(names, params, strict=True)},
        log_likelihood=float(-f / scale),
        iterations=int(res.nit),
        converged=converged,
        message=f"{res.message}; Newton steps {polished}; max |gradient| {gnorm:.1e}",
        n_obs=total_weight,
        function_evaluations=int(res.nfev),
        gradient_norm=gnorm,
        reason=reason,
    )


def fit_problem(
    names: Sequence[str],
    params: FloatArray,
    gradient_norm: float,
    grad_of: Callable[[FloatArray], FloatArray],
    theta: FloatArray,
) -> str:
    """Why the point the optimiser stopped at is not a maximum to report, or "" when it is."""
    for name, value, log_value in zip(names, params, theta, strict=True):
        if value < PARAMETER_EDGE or log_value >= _BOUND - 1e-9:
            return f"{name} ran to the edge of its range ({value:.3g})"
    if not np.isfinite(gradient_norm) or gradient_norm > GRADIENT_TOLERANCE:
        return f"the gradient did not vanish (max |gradient| {gradient_norm:.1e})"
    try:
        curvature = np.linalg.eigvalsh(_hessian(grad_of, theta))
    except np.linalg.LinAlgError:
        return "the curvature of the likelihood could not be computed"
    top = float(np.max(np.abs(curvature)))
    if not np.all(np.isfinite(curvature)) or float(np.min(curvature)) <= FLATNESS * top:
        return (
            "the likelihood is flat in some direction: the parameters are not identified "
            f"(curvature ratio {float(np.min(curvature)) / max(top, 1e-300):.1e})"
        )
    return ""


def params_array(
    params: Mapping[str, float] | None, names: Sequence[str], model: str
) -> FloatArray:
    """Return the parameters in ``names`` order, or raise if the model is not fitted."""
    if params is None:
        raise RuntimeError(f"{model}: fit the model (or pass params) first")
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"{model}: missing parameters {missing}")
    return np.array([float(params[n]) for n in names], dtype=np.float64)


def log1mexp(v: FloatArray) -> FloatArray:
    """Stable ``log(1 - exp(v))`` for ``v <= 0`` (Mächler 2012)."""
    out = np.empty_like(v)
    small = v > -np.log(2.0)
    out[small] = np.log(-np.expm1(v[small]))
    out[~small] = np.log1p(-np.exp(v[~small]))
    return out


class TransactionModel(ABC):
    """Base class of the buy-till-you-die transaction models (BG/NBD, Pareto/NBD, MBG/NBD).

    Subclasses set ``name`` and ``param_names`` and implement :meth:`_loglik_grad`.
    """

    name: str = ""
    param_names: tuple[str, ...] = ()

    def __init__(self, params: Mapping[str, float] | None = None) -> None:
        self.params: dict[str, float] | None = dict(params) if params is not None else None
        self.result: FitResult | None = None

    @abstractmethod
    def _loglik_grad(self, p: FloatArray, data: RFMData) -> tuple[float, FloatArray]: ...

    @abstractmethod
    def probability_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(customer is alive at T | x, t_x, T)."""
        ...

    @abstractmethod
    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[number of purchases in (T, T + t] | x, t_x, T]."""
        ...

    @abstractmethod
    def expected_purchases_unconditional(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired."""
        ...

    def _p(self) -> FloatArray:
        return params_array(self.params, self.param_names, self.name)

    def start_values(self, data: RFMData) -> list[float]:
        """Start values from the data: purchase rate ``r/alpha`` = total x / total T (moments,
        ignoring drop-out) with ``r = 1``; the drop-out parameters at 1 (subclasses refine).

        Starting from the data's own time scale keeps the fit independent of the time unit
        (days or weeks) and of how many customers there are.
        """
        w = data.weights
        exposure = float(np.dot(w, data.T))
        purchases = float(np.dot(w, data.x))
        alpha = exposure / purchases if purchases > 0 else 10.0 * exposure / max(w.sum(), 1.0)
        return [1.0, max(alpha, 1e-6), 1.0, 1.0]

    def fit(
        self,
        x: ArrayLike,
        t_x: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
        initial: Sequence[float] | None = None,
    ) -> FitResult:
        """Fit by maximum likelihood; ``weights`` count customers per (possibly collapsed) row."""
        data = prepare_rfm(x, t_x, T, weights)
        res = maximise(
            self.name,
            self.param_names,
            lambda p: self._loglik_grad(p, data),
            data.total_weight,
            self.start_values(data) if initial is None else initial,
        )
        self.params = res.params
        self.result = res
        return res

    def loglik_and_gradient(
        self,
        params: ArrayLike,
        x: ArrayLike,
        t_x: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> tuple[float, FloatArray]:
        """Weighted total log-likelihood and its gradient in the natural parameters."""
        data = prepare_rfm(x, t_x, T, weights)
        return self._loglik_grad(np.asarray(params, dtype=np.float64), data)

    def log_likelihood(
        self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
    ) -> float:
        """Weighted total log-likelihood at the current parameters."""
        return self.loglik_and_gradient(self._p(), x, t_x, T, weights)[0]
