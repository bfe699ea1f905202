"""Fitting machinery shared by the models: maximum likelihood on log-parameters and the
covariance of the estimates.

* :func:`maximise` runs L-BFGS-B on the mean negative log-likelihood per customer (lifetimes'
  objective, so tolerances do not depend on the number of customers);
* :func:`newton` polishes a good starting point (from a sample of the data) in a few steps;
* :func:`covariance` and :func:`numeric_covariance` invert the observed information, from the
  analytic gradient or from the likelihood alone, and map it to the natural parameters.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from scipy.optimize import minimize

__all__ = [
    "covariance",
    "log_objective",
    "maximise",
    "newton",
    "numeric_covariance",
    "objective_hessian",
    "single_threaded_blas",
]


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread while optimising: L-BFGS-B's tiny matrix products gain nothing
    from threads and stall when cores are busy. Restored on exit; no effect without threadpoolctl
    (a dependency of scikit-learn, installed with mlxtend)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def maximise(
    ll_grad: Any, start: np.ndarray, total_weight: float, penalizer: float
) -> tuple[np.ndarray, Any]:
    """Maximise ``ll_grad`` (total log-likelihood, gradient) over log-parameters with L-BFGS-B.

    The objective is the mean negative log-likelihood per customer plus ``penalizer * sum(θ²)``
    (lifetimes' objective), so the tolerances do not depend on the number of customers.

    Parameters
    ----------
    ll_grad
        Function of the natural parameters returning the total log-likelihood and its gradient.
    start
        Starting point (natural parameters, all positive).
    total_weight
        Number of customers the likelihood sums over.
    penalizer
        L2 penalty on the parameters.

    Returns
    -------
    (numpy.ndarray, scipy.optimize.OptimizeResult)
        The estimate (natural parameters) and the optimiser's result; ``success`` also counts a
        line search that stalled where the gradient is flat.
    """

    mean_objective = log_objective(ll_grad, total_weight, penalizer)

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = mean_objective(log_theta)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return np.inf, np.zeros_like(log_theta)
        return value, gradient

    with single_threaded_blas():
        result = minimize(
            objective,
            np.log(start),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 3000, "ftol": 1e-12, "gtol": 1e-7, "maxcor": 20},
        )
    # a line search that stalls at the optimum (round-off) still counts when the gradient is flat
    result.success = bool(result.success or np.max(np.abs(result.jac)) < 1e-5)
    return np.exp(result.x), result


def log_objective(ll_grad: Any, total_weight: float, penalizer: float) -> Any:
    """Mean negative log-likelihood (+ penalty) and its gradient as functions of log-parameters."""

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            theta = np.exp(log_theta)
            ll, grad = ll_grad(theta)
            value = -ll / total_weight + penalizer * np.sum(theta**2)
            gradient = (-grad / total_weight + 2 * penalizer * theta) * theta
        return value, gradient

    return objective


def objective_hessian(
    objective: Any, phi: np.ndarray, grad: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Hessian of ``objective`` at ``phi`` by forward differences of its gradient ``grad``."""
    k = len(phi)
    out = np.empty((k, k))
    for i in range(k):
        moved = phi.copy()
        moved[i] += h
        out[:, i] = (objective(moved)[1] - grad) / h
    return (out + out.T) / 2


def newton(
    ll_grad: Any,
    start: np.ndarray,
    total_weight: float,
    penalizer: float,
    *,
    tol: float = 2e-8,
    max_iter: int = 12,
    start_hessian: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Polish a good starting point with Newton steps on the log-parameters.

    The Hessian comes from forward differences of the analytic gradient: ``start_hessian`` (e.g.
    from a sample of the data) or one computed at the start, recomputed once after the first
    step, then reused (each further step costs one likelihood evaluation), and refreshed at the
    end if the optimum lies further away. Steps are halved until the objective decreases. Stops when the
    largest gradient component of the mean objective is below ``tol``.

    Returns
    -------
    (theta, hessian, objective) or None
        The optimum, the Hessian of the mean objective (in log-parameters) there and the
        objective's value, or None when the Hessian is not positive definite or the steps stall (use L-BFGS-B then).
    """
    objective = log_objective(ll_grad, total_weight, penalizer)

    def hessian(phi: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return objective_hessian(objective, phi, grad)

    phi = np.log(start)
    value, grad = objective(phi)
    hess, at = start_hessian, (phi if start_hessian is not None else None)

    def done() -> tuple[np.ndarray, np.ndarray, float]:
        # the covariance needs the Hessian at the optimum: refresh it unless computed close by
        near = at is not None and np.max(np.abs(phi - at)) < 5e-3 and iteration > 0
        final = hess if near else hessian(phi, grad)
        return np.exp(phi), final, float(value)

    iteration = 0
    for iteration in range(max_iter):  # noqa: B007 - read by done()
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return None
        if np.max(np.abs(grad)) < tol and hess is not None:
            return done()
        if hess is None or iteration == 1:
            hess, at = hessian(phi, grad), phi
        try:
            np.linalg.cholesky(hess)
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        size = 1.0
        while True:
            new_value, new_grad = objective(phi + size * step)
            decrease = new_value <= value + 1e-4 * size * (grad @ step)
            # next to the optimum the values agree to round-off: a flatter gradient decides
            flatter = new_value <= value + 1e-13 * abs(value) and np.max(np.abs(new_grad)) < np.max(
                np.abs(grad)
            )
            if np.isfinite(new_value) and (decrease or flatter):
                break
            size /= 2
            if size < 1e-3:
                # no decrease left to find: at the optimum up to round-off, or lost
                good = np.max(np.abs(grad)) < 100 * tol and hess is not None
                return done() if good else None
        phi, value, grad = phi + size * step, new_value, new_grad
    return None


def covariance(ll_grad: Any, theta: np.ndarray) -> np.ndarray:
    """Covariance of the estimates: inverse of the observed information (−Hessian of the total
    log-likelihood), from forward differences of the analytic gradient in log-parameters
    (step 1e-6), mapped back to the natural parameters by the delta method.

    Parameters
    ----------
    ll_grad
        Function of the natural parameters returning the total log-likelihood and its gradient.
    theta
        The estimate.

    Returns
    -------
    numpy.ndarray
        The covariance matrix; all NaN when the Hessian is singular.
    """
    k = len(theta)
    h = 1e-6
    log_theta = np.log(theta)
    base = ll_grad(theta)[1] * theta
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        moved = np.exp(log_theta + step)
        hess[:, i] = (ll_grad(moved)[1] * moved - base) / h
    hess = (hess + hess.T) / 2
    try:
        cov_log = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
    return cov_log * np.outer(theta, theta)


def numeric_covariance(ll: Any, theta: np.ndarray) -> np.ndarray:
    """Covariance from a numerical Hessian (central second differences in log-parameters) of a
    total log-likelihood without gradient, mapped to the natural parameters (delta method)."""
    k = len(theta)
    h = 1e-4
    log_theta = np.log(theta)

    def f(shift: np.ndarray) -> float:
        return ll(np.exp(log_theta + shift))

    hess = np.empty((k, k))
    eye = np.eye(k) * h
    f0 = f(np.zeros(k))
    for i in range(k):
        hess[i, i] = (f(eye[i]) - 2 * f0 + f(-eye[i])) / h**2
        for j in range(i):
            hess[i, j] = hess[j, i] = (
                f(eye[i] + eye[j]) - f(eye[i] - eye[j]) - f(eye[j] - eye[i]) + f(-eye[i] - eye[j])
            ) / (4 * h**2)
    try:
        cov_log = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
    return cov_log * np.outer(theta, theta)
