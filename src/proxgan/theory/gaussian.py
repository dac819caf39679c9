"""Theorem 1's setting and the Gaussian helpers every formulation shares.

Data X ~ N(0, σ² I_d); generator G(z) = W z + u with Z ~ N(0, I_d), so G(Z) ~ N(u, W Wᵀ).
The generator set 𝒢 is {σ_max(W) ≤ 1, ‖u‖₂ ≤ t}; with ``orthogonal=True`` also σ_min(W) ≥ 1
(Remark 1), i.e. W is orthogonal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

from proxgan.errors import ProxganError, check_in_range, check_positive, check_positive_int


@dataclass(frozen=True)
class Setting:
    """Theorem 1's Gaussian game: X ~ N(0, σ²I_d), 𝒢 = {σ_max(W) ≤ 1, ‖u‖ ≤ t} (+σ_min(W) ≥ 1).

    ``eta`` scales the W2GAN cost c(x, x') = η‖x − x'‖² (Theorem 2).
    """

    sigma: float = 2.0
    dim: int = 1
    t: float = 1.0
    eta: float = 1.0
    orthogonal: bool = False

    def __post_init__(self) -> None:
        for name in ("sigma", "t", "eta"):  # squares and exponentials of these must stay finite in float64
            check_in_range(name, check_positive(name, getattr(self, name)), 1e-6, 1e6)
        check_positive_int("dim", self.dim)

    @property
    def singular_value_range(self) -> tuple[float, float]:
        """Feasible singular values of W: [0, 1], or {1} under Remark 1's σ_min(W) ≥ 1."""
        return (1.0, 1.0) if self.orthogonal else (0.0, 1.0)

    @property
    def closest_scale(self) -> float:
        """s* = clip(σ, s_lo, 1): the W₁- and W₂-minimising singular value (both distances grow with
        |σ − sᵢ| and ‖u‖ — W₂ = ‖u‖² + Σ(σ − sᵢ)², 1-D W₁ = E|(σ − |w|)ζ − u|), so G* = s*·I, u = 0."""
        lo, hi = self.singular_value_range
        return float(np.clip(self.sigma, lo, hi))

    def replace(self, **changes) -> "Setting":
        """A copy with some fields changed (validated again)."""
        from dataclasses import replace

        return replace(self, **changes)


@dataclass(frozen=True)
class LinearGenerator:
    """G(z) = W z + u; its output law is N(u, W Wᵀ)."""

    W: np.ndarray
    u: np.ndarray

    @property
    def covariance(self) -> np.ndarray:
        return self.W @ self.W.T

    def to_dict(self) -> dict:
        return {"W": self.W.tolist(), "u": self.u.tolist()}


def isotropic_generator(setting: Setting, scale: float, shift: float = 0.0) -> LinearGenerator:
    """G(z) = scale·z + shift·e₁ (the symmetric candidates the formulations reduce to)."""
    u = np.zeros(setting.dim)
    u[0] = shift
    return LinearGenerator(scale * np.eye(setting.dim), u)


def project_generator(W: np.ndarray, u: np.ndarray, setting: Setting) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean projection onto 𝒢: clip W's singular values to [σ_lo, 1], shrink u into the t-ball.

    Clipping singular values is the Frobenius-norm projection onto {σ_lo ≤ σ_i(W) ≤ 1}
    (von Neumann's trace inequality makes the SVD basis optimal).
    """
    lo, hi = setting.singular_value_range
    U, s, Vt = np.linalg.svd(W)
    W = (U * np.clip(s, lo, hi)) @ Vt
    norm = np.linalg.norm(u)
    if norm > setting.t:
        u = u * (setting.t / norm)
    return W, u


def sqrtm_psd(S: np.ndarray) -> np.ndarray:
    """Principal square root of a symmetric PSD matrix through its eigendecomposition."""
    vals, vecs = np.linalg.eigh((S + S.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def bures_w2_squared(m1: np.ndarray, S1: np.ndarray, m2: np.ndarray, S2: np.ndarray) -> float:
    """W₂²(N(m1,S1), N(m2,S2)) = ‖m1−m2‖² + tr S1 + tr S2 − 2 tr (S1^{1/2} S2 S1^{1/2})^{1/2}."""
    r1 = sqrtm_psd(S1)
    cross = sqrtm_psd(r1 @ S2 @ r1)
    return float(np.sum((m1 - m2) ** 2) + np.trace(S1) + np.trace(S2) - 2 * np.trace(cross))


def normal_pdf(x, mean=0.0, std=1.0):
    """Density of N(mean, std²) (broadcasts)."""
    z = (x - mean) / std
    return np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * std)


def normal_cdf(x, mean=0.0, std=1.0):
    """CDF of N(mean, std²) (broadcasts)."""
    return ndtr((x - mean) / std)


def mean_abs_normal(mean, std):
    """E|Y| for Y ~ N(mean, std²): std·√(2/π)·exp(−mean²/2std²) + mean·(1 − 2Φ(−mean/std))."""
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    safe = np.where(std > 0, std, 1.0)
    folded = safe * np.sqrt(2 / np.pi) * np.exp(-0.5 * (mean / safe) ** 2) + mean * (1 - 2 * ndtr(-mean / safe))
    return np.where(std > 0, folded, np.abs(mean))


@lru_cache(maxsize=None)
def _gauss_legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(order)


def line_rule(edges: np.ndarray, order: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Composite ``order``-point Gauss–Legendre rule on the pieces between sorted ``edges`` (..., k).

    Returns nodes and weights of shape (..., order·(k−1)); batched over leading axes so many
    integrals with piecewise-smooth integrands (kinks placed on edges) run in one array pass.
    """
    nodes01, weights01 = _gauss_legendre(order)
    edges = np.sort(edges, axis=-1)
    left, right = edges[..., :-1, None], edges[..., 1:, None]
    half = (right - left) / 2
    nodes = left + half * (1 + nodes01)
    weights = half * weights01
    shape = edges.shape[:-1] + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


def gaussian_edges(means: list, stds: list, breakpoints: list, pieces: int = 12, width: float = 12.0) -> np.ndarray:
    """Edges for :func:`line_rule` covering every N(mean, std²) to ±``width``·std, plus breakpoints.

    Each density gets ``pieces`` equal pieces over its own ±width·std window, so narrow and wide
    Gaussians are both resolved; kinks of the integrand go in ``breakpoints``. All arguments
    broadcast to a common batch shape; the result has shape (batch..., n_edges).
    """
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in (*means, *stds, *breakpoints)])
    k = len(means)
    grid = np.linspace(-width, width, pieces + 1)
    cols = [arrays[i][..., None] + arrays[k + i][..., None] * grid for i in range(k)]
    cols += [a[..., None] for a in arrays[2 * k:]]
    return np.concatenate(cols, axis=-1)


def gap_tolerance(base: float, value):
    """The absolute tolerance on a gap at game value V: ``base``·(1 + |V|) (elementwise on arrays)."""
    return base * (1 + abs(value))


def require_dim_one(setting: Setting, formulation: str) -> None:
    """The 1-D WGAN analysis (Theorem 1, third bullet) needs d = 1."""
    if setting.dim != 1:
        raise ProxganError(f"{formulation} is analysed in d = 1 only (Theorem 1); got --dim {setting.dim}")


def projected_generator_descent(
    objective,
    setting: Setting,
    starts: list[tuple[np.ndarray, np.ndarray]],
    *,
    steps: int = 100,
    lr: float = 0.1,
) -> tuple[LinearGenerator, float]:
    """min_{G∈𝒢} objective(W, u) by projected gradient descent from several starts.

    ``objective(W, u)`` returns (value, ∂/∂W, ∂/∂u). Each step is W, u ← Π_𝒢(W − lr·∂_W, u − lr·∂_u)
    with lr grown on success and halved on failure; the best iterate over all restarts is
    returned with its value (an attained value, never extrapolated).
    """
    best_value, best = np.inf, None
    for W0, u0 in starts:
        W, u = project_generator(np.asarray(W0, float), np.asarray(u0, float), setting)
        value, gW, gu = objective(W, u)
        step = lr
        for _ in range(steps):
            Wn, un = project_generator(W - step * gW, u - step * gu, setting)
            trial = objective(Wn, un)
            if trial[0] < value:
                W, u, (value, gW, gu) = Wn, un, trial
                step = min(step * 1.5, 10 * lr)
            else:
                step /= 2
                if step < 1e-6 * lr:
                    break
        if value < best_value:
            best_value, best = value, LinearGenerator(W, u)
    return best, float(best_value)


def generator_starts(setting: Setting, center: LinearGenerator, n_random: int = 3, seed: int = 0):
    """Restart points for :func:`projected_generator_descent`: the candidate itself, its shifts
    u = ±t·e₁, and ``n_random`` random feasible generators (seeded)."""
    rng = np.random.default_rng(seed)
    d = setting.dim
    starts = [(center.W, center.u)]
    for sign in (1.0, -1.0):
        shift = center.u.copy()
        shift[0] += sign * 0.5 * setting.t
        starts.append((center.W, shift))
    for _ in range(n_random):
        starts.append((rng.normal(size=(d, d)) / np.sqrt(d), rng.normal(size=d) * setting.t / np.sqrt(d)))
    return starts


def grid_zoom_minimize(fn, lows: list, highs: list, *, points: int = 21, levels: int = 7):
    """min of ``fn`` over a batch of boxes ∏[lowᵢ, highᵢ] by a grid that zooms on its best point.

    ``lows``/``highs`` broadcast to a batch shape B; ``fn(*coords)`` receives coordinate arrays
    of shape B + (points,)*k and returns values of that shape. Each level keeps a box of ±2 grid
    cells around the best point (clipped to the original box, whose corners stay on the grid), so
    on convex objectives the search converges to the minimum. Returns (values B, argmins [k × B]).
    """
    lows = np.broadcast_arrays(*[np.asarray(x, float) for x in (*lows, *highs)])
    k = len(lows) // 2
    lo0, hi0 = lows[:k], lows[k:]
    lo, hi = list(lo0), list(hi0)
    batch = lo[0].shape
    frac = np.linspace(0.0, 1.0, points)
    sizes = [1 if np.all(lo0[i] == hi0[i]) else points for i in range(k)]  # fixed coordinates: one point
    best_value, argmin = np.full(batch, np.inf), [np.zeros(batch) for _ in range(k)]
    for _ in range(levels):
        axes = []
        for i in range(k):
            axis = lo[i][..., None] + (hi[i] - lo[i])[..., None] * frac[: sizes[i]]
            shape = batch + (1,) * i + (sizes[i],) + (1,) * (k - i - 1)
            axes.append(axis.reshape(shape))
        coords = np.broadcast_arrays(*axes)
        values = fn(*coords)
        flat = values.reshape(batch + (-1,))
        best = np.argmin(flat, axis=-1)
        idx = np.unravel_index(best, tuple(sizes))
        level_value = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
        improved = level_value < best_value
        best_value = np.where(improved, level_value, best_value)
        for i in range(k):
            step = (hi[i] - lo[i]) / (points - 1)
            centre = lo[i] + step * idx[i]
            argmin[i] = np.where(improved, centre, argmin[i])
            lo[i] = np.maximum(lo0[i], centre - 2 * step)
            hi[i] = np.minimum(hi0[i], centre + 2 * step)
    return best_value, argmin
