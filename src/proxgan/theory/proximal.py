"""The proximal objective (eq. 11) with the Sobolev semi-norm (eq. 15) on quadratic discriminators,
λ-proximal gaps, the λ_max search, and Proposition 4's constants.

For D(x) = xᵀAx + bᵀx (A symmetric) ∇D(x) = 2Ax + b, so under X ~ N(0, σ²I)

    ‖D̃ − D‖²_{Ḣ¹} = E‖2ΔA X + Δb‖² = 4σ²‖ΔA‖_F² + ‖Δb‖²     (ΔA = Ã − A, Δb = b̃ − b).

Parameter vector w = (A in the orthonormal basis {E_ii, (E_ij + E_ji)/√2} of symmetric matrices, b),
so ‖ΔA‖_F = ‖Δw_A‖₂ and the penalty's Hessian in w is diag(8σ², …, 2, …): Proposition 4's
η₁ = 2 min(4σ², 1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def sobolev_distance_sq_quadratic(dA, db, sigma: float) -> float:
    """‖D̃ − D‖²_{Ḣ¹} = 4σ²‖ΔA‖_F² + ‖Δb‖² for quadratic D under P_X = N(0, σ²I) (eq. 15)."""
    return 4 * sigma**2 * float(np.sum(np.asarray(dA) ** 2)) + float(np.sum(np.asarray(db) ** 2))


def _basis_scale(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(d)
    return rows, cols, np.where(rows == cols, 1.0, np.sqrt(2.0))


def symmetric_from_vector(w: np.ndarray, d: int) -> np.ndarray:
    """The symmetric matrix whose orthonormal-basis coordinates are w (length d(d+1)/2)."""
    rows, cols, scale = _basis_scale(d)
    A = np.zeros((d, d))
    A[rows, cols] = w / scale
    A[cols, rows] = w / scale
    return A


def vector_from_symmetric(A: np.ndarray) -> np.ndarray:
    """Coordinates of symmetric A in the orthonormal basis: ‖vector‖₂ = ‖A‖_F; also maps a
    gradient ∇_A f (symmetric) to ∇_w f."""
    rows, cols, scale = _basis_scale(A.shape[0])
    return A[rows, cols] * scale


def penalty_strong_convexity(sigma: float) -> float:
    """Proposition 4's η₁ for w ↦ ‖D_w − D‖²_{Ḣ¹}: its Hessian is diag(8σ² I, 2 I), so η₁ = 2 min(4σ², 1)."""
    return 2 * min(4 * sigma**2, 1.0)


def maximize_concave(objective: Callable, w0: np.ndarray, *, iterations: int = 100, step: float = 1e-6):
    """Newton ascent on a smooth concave objective, from a feasible w0.

    ``objective(w)`` returns (value, gradient), value −∞ outside the domain. The Hessian comes from
    central differences of the gradient; steps are halved until feasible and increasing (Armijo).
    Stops when the Newton decrement gᵀ(−H)⁻¹g is below 1e-20 or no step improves.
    Returns (w, value).
    """
    w = np.asarray(w0, float).copy()
    value, g = objective(w)
    for _ in range(iterations):
        cols = []
        for e in np.eye(len(w)) * step:
            plus, minus = objective(w + e)[1], objective(w - e)[1]
            if plus is None or minus is None:
                plus, minus = objective(w + e / 1e3)[1], objective(w - e / 1e3)[1]
                cols.append((plus - minus) / (2 * step / 1e3))
            else:
                cols.append((plus - minus) / (2 * step))
        H = np.stack(cols)
        H = (H + H.T) / 2
        direction = np.linalg.lstsq(-H, g, rcond=None)[0]
        decrement = float(g @ direction)
        if decrement < 1e-20:
            break
        t = 1.0
        while t > 1e-12:
            trial_value, trial_grad = objective(w + t * direction)
            if np.isfinite(trial_value) and trial_value >= value + 1e-4 * t * decrement:
                break
            t /= 2
        else:
            break
        w, value, g = w + t * direction, trial_value, trial_grad
    return w, float(value)


def lambda_max_search(
    gap_at: Callable[[np.ndarray], np.ndarray],
    lambdas: np.ndarray,
    gaps: np.ndarray,
    tol: float,
    *,
    rounds: int = 2,
    points: int = 64,
) -> dict:
    """Largest λ for which (G*, D*) is a λ-proximal equilibrium, from a sweep refined in the bracket.

    By Proposition 3 the equilibrium set shrinks as λ grows, so the largest swept λ with gap ≤ tol
    below the first failing one brackets λ_max; each refinement round evaluates ``gap_at``
    (vectorised, λ array → gap array) on ``points`` log-spaced λ inside the bracket and keeps the
    sub-bracket where the verdict flips. ``lambda_max`` is ∞ when every swept λ passes and 0 when
    even the smallest fails (``bracket`` then is [0, λ_min]).
    """
    order = np.argsort(lambdas)
    lambdas, gaps = np.asarray(lambdas)[order], np.asarray(gaps)[order]
    failing = np.nonzero(gaps > tol)[0]
    if failing.size == 0:
        return {"lambda_max": float("inf"), "bracket": [float(lambdas[-1]), float("inf")]}
    first = failing[0]
    hi = float(lambdas[first])
    if first == 0:
        return {"lambda_max": 0.0, "bracket": [0.0, hi]}
    lo = float(lambdas[first - 1])
    for _ in range(rounds):
        grid = np.geomspace(lo, hi, points + 2)[1:-1]
        fails = np.nonzero(gap_at(grid) > tol)[0]
        if fails.size:
            hi = float(grid[fails[0]])
            lo = float(grid[fails[0] - 1]) if fails[0] > 0 else lo
        else:
            lo = float(grid[-1])
    return {"lambda_max": lo, "bracket": [lo, hi]}


def nesting_violations(lambdas: np.ndarray, gaps: np.ndarray, tol: float) -> int:
    """Proposition 3 on a sweep: count λ₁ < λ₂ with (G*, D*) ∈ PE_λ₂ but ∉ PE_λ₁ (should be 0)."""
    order = np.argsort(lambdas)
    ok = np.asarray(gaps)[order] <= tol
    return int(sum(1 for i in range(len(ok)) for j in range(i + 1, len(ok)) if ok[j] and not ok[i]))


def proximal_summary(lambdas, gen_gaps, disc_gaps, tol, gap_at, value, stackelberg) -> dict:
    """λ-sweep verdicts (Proposition 2: both λ-proximal gaps ≤ tol), λ_max (bisection-refined,
    :func:`lambda_max_search`), Proposition 3's nesting count and Corollary 1's check (whether V(G*, D*)
    equals the Stackelberg value)."""
    ok = (gen_gaps <= tol) & (disc_gaps <= tol)
    search = lambda_max_search(gap_at, lambdas, np.maximum(gen_gaps, disc_gaps), tol)
    return {
        "lambdas": lambdas,
        "generator_gaps": gen_gaps,
        "discriminator_gaps": disc_gaps,
        "is_proximal_equilibrium": ok,
        "lambda_max": search["lambda_max"],
        "lambda_max_bracket": search["bracket"],
        "nesting_violations": nesting_violations(lambdas, np.maximum(gen_gaps, disc_gaps), tol),
        "corollary1": {
            "stackelberg_value": stackelberg,
            "value_at_G_star": value,
            "G_star_attains_stackelberg_value": bool(abs(value - stackelberg) <= tol),
            "proximal_equilibria_in_sweep": int(ok.sum()),
        },
    }
