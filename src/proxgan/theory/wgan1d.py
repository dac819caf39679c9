"""WGAN (eq. 8) in d = 1 with 1-Lipschitz D, Theorem 1 (third bullet), Remark 1 and Theorem 3.

X ~ N(0, σ²), Y = wZ + u ~ N(u, w²). Integrating by parts,

    V(G, D) = E D(X) − E D(Y) = ∫ D'(x) h(x) dx,   h = F_Y − F_X,

and 1-Lipschitz means |D'| ≤ 1 a.e., so everything is pointwise in x:
- optimal potential: D' = sign(h), value W₁ = ∫|F_Y − F_X| = E|(σ − |w|)ζ − u| (monotone coupling);
  for G* = s*·z (s* = clip(σ, s_lo, 1)) this is D*(x) = sign(s* − σ)·|x| (constant if s* = σ);
- proximal objective (eq. 11) with ‖D̃ − D*‖² = E_X (D̃' − D*')² (eq. 15): pointwise
  max over g ∈ [−1, 1] of g·h − λ p_X (g − g*)², i.e. g = clip(g* + h/(2λ p_X), −1, 1);
- Theorem 3's α²(x) = |x − T(x)| with T(x) = s*x/σ, so inf_x α² = 0: the theorem certifies only λ = 0.

The x-integrals use a composite Gauss–Legendre rule with pieces on each density's scale and
edges at the kinks (x = 0, where g* jumps, and the crossing of F_Y and F_X).
The generator is searched over |w| ∈ [1e-3, 1] (w and −w give the same law; w = 0 is the
degenerate point mass, excluded for the quadrature) and u ∈ [−t, t].
"""

from __future__ import annotations

import numpy as np

from proxgan.theory.gaussian import (
    Setting,
    gap_tolerance,
    grid_zoom_minimize,
    line_rule,
    mean_abs_normal,
    normal_cdf,
    normal_pdf,
    require_dim_one,
)
from proxgan.theory.proximal import proximal_summary

SCALE_FLOOR = 1e-3
#: tolerance on gaps, times (1 + |V|): quadrature
TOLERANCE = 1e-8


def wasserstein1(sigma, w, u):
    """W₁(N(0, σ²), N(u, w²)) = E|(σ − |w|)ζ − u|, ζ ~ N(0, 1) (quantile coupling)."""
    return mean_abs_normal(-np.asarray(u, float), np.abs(np.asarray(sigma) - np.abs(w)))


def cdf_crossing(sigma, w, u):
    """The x where F_{N(u,w²)} = F_{N(0,σ²)}: (x − u)/w = x/σ ⇒ x = uσ/(σ − w) (0 when w = σ)."""
    gap = np.asarray(sigma) - np.abs(w)
    safe = np.where(np.abs(gap) > 1e-12, gap, 1.0)
    return np.where(np.abs(gap) > 1e-12, u * sigma / safe, 0.0)


def optimal_slope_sign(setting: Setting) -> float:
    """D*' = sign(F_{G*} − F_X) = sign(x)·sign(σ − s*): D*(x) = sign(σ − s*)|x| (0: constant D*)."""
    return float(np.sign(setting.sigma - setting.closest_scale))


def _edges(sigma, w, u):
    """Quadrature edges: 12 pieces over ±12·max(σ, w) around the data, Y's own scale around u,
    and 8 pieces between 0 and the crossing, where g* and sign(h) disagree and the clip kinks lie."""
    span = 12 * np.maximum(sigma, w)
    wide = np.linspace(-1.0, 1.0, 13) * span[..., None] + 0.5 * u[..., None]
    narrow = u[..., None] + w[..., None] * np.array([-6.0, -3.0, 0.0, 3.0, 6.0])
    between = cdf_crossing(sigma, w, u)[..., None] * np.linspace(0.0, 1.0, 9)
    return np.concatenate([wide, narrow, between], axis=-1)


def proximal_value(sigma, slope_sign, lam, w, u):
    """V_λ^prox(G, D*) for G = (w, u), D*(x) = slope_sign·|x| (λ = ∞: V(G, D*); λ = 0: W₁(G)).

    ∫ [g h − λ p_X (g − g*)²] dx with g = clip(g* + h/(2λ p_X), −1, 1), g* = slope_sign·sign(x),
    by the composite Gauss–Legendre rule on :func:`_edges`. All arguments broadcast.
    """
    sigma, slope_sign, lam, w, u = np.broadcast_arrays(*[np.asarray(x, float) for x in (sigma, slope_sign, lam, w, u)])
    w = np.maximum(np.abs(w), SCALE_FLOOR)
    x, weights = line_rule(_edges(sigma, w, u), order=8)
    ex = (lambda a: a[..., None])
    h = normal_cdf(x, ex(u), ex(w)) - normal_cdf(x, 0.0, ex(sigma))
    density = normal_pdf(x, 0.0, ex(sigma))
    g_star = ex(slope_sign) * np.sign(x)
    lam_x = ex(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where((h == 0) | np.isinf(lam_x), 0.0, h / (2 * lam_x * density))
        g = np.clip(g_star + step, -1.0, 1.0)
        penalty = np.where(np.isinf(lam_x), 0.0, lam_x * density * (g - g_star) ** 2)
    return np.sum(weights * (g * h - penalty), axis=-1)


def nash_value(sigma, slope_sign, w, u):
    """V(G, D*) = s(E|X| − E|Y|) for D*(x) = s|x| in closed form (the λ = ∞ case of
    :func:`proximal_value`, used where no quadrature is needed)."""
    return slope_sign * (mean_abs_normal(0.0, sigma) - mean_abs_normal(u, np.maximum(np.abs(w), SCALE_FLOOR)))


def generator_min(setting: Setting, sigma, lam, *, radius=None):
    """min over (|w|, u) ∈ [s_lo, 1] × [−t, t] of V_λ^prox(G, D*) (λ = ∞: the Nash best response).

    Grid search zooming on the best point (:func:`grid_zoom_minimize`), batched over sigma and lam;
    D* is the optimal potential of G* at each σ. D* and X are even, so V_λ^prox(w, u) =
    V_λ^prox(w, −u) and the search runs over u ∈ [0, t]. ``radius`` restricts to a neighbourhood
    of G*. Returns (value, w, u).
    """
    sigma, lam = np.broadcast_arrays(np.asarray(sigma, float), np.asarray(lam, float))
    lo, hi = setting.singular_value_range
    s_star = np.clip(sigma, lo, hi)
    slope = np.sign(sigma - s_star)
    w_lo, w_hi = np.full(sigma.shape, max(lo, SCALE_FLOOR)), np.full(sigma.shape, hi)
    u_hi = np.full(sigma.shape, setting.t)
    if radius is not None:
        w_lo, w_hi = np.maximum(w_lo, s_star - radius), np.minimum(w_hi, s_star + radius)
        u_hi = np.minimum(u_hi, radius)
    expand = (lambda a, k: a.reshape(a.shape + (1,) * k))

    def objective(w, u):
        k = w.ndim - sigma.ndim
        if np.all(np.isinf(lam)):
            return nash_value(expand(sigma, k), expand(slope, k), w, u)
        return proximal_value(expand(sigma, k), expand(slope, k), expand(lam, k), w, u)

    value, (w, u) = grid_zoom_minimize(objective, [w_lo, 0.0 * u_hi], [w_hi, u_hi], points=11, levels=8)
    return value, w, u


def theorem3_eta(setting: Setting) -> float:
    """inf_x α²(x) for G*: X − α²(X)∇D*(X) ~ G*(Z) with |∇D*| = 1 gives α²(x) = |x|·|1 − s*/σ|; inf = 0."""
    x = np.linspace(-10 * setting.sigma, 10 * setting.sigma, 2001)
    return float(np.min(np.abs(x) * abs(1 - setting.closest_scale / setting.sigma)))


# --- the analysis of one setting (Theorem 1, Remark 1, Theorem 3, Corollary 1) -----------------------


def analyze(setting: Setting, lambdas: np.ndarray) -> dict:
    """(G*, D*) = (s*·z, sign(σ − s*)·|x|): Nash gaps, λ-proximal gaps over ``lambdas`` with λ_max
    (exact inner max, grid-searched generator), Theorem 3's inf α², the Stackelberg value."""
    require_dim_one(setting, "wgan")
    sigma, s_star = setting.sigma, setting.closest_scale
    slope = optimal_slope_sign(setting)
    value = float(proximal_value(sigma, slope, np.inf, s_star, 0.0))
    divergence = float(wasserstein1(sigma, s_star, 0.0))
    disc_best = float(proximal_value(sigma, slope, 0.0, s_star, 0.0))
    tol = gap_tolerance(TOLERANCE, value)
    gen_min, w, u = (float(x) for x in generator_min(setting, sigma, np.inf))
    stackelberg = float(generator_min(setting, sigma, 0.0)[0])

    def gen_gap_at(lam):
        return value - generator_min(setting, sigma, lam)[0]

    prox_at_star = proximal_value(sigma, slope, lambdas, s_star, 0.0)
    proximal = proximal_summary(lambdas, gen_gap_at(lambdas), disc_best - prox_at_star, tol, gen_gap_at, value, stackelberg)
    proximal["lambda_max_kind"] = "exact inner max (pointwise over 1-Lipschitz D̃); outer grid search"
    return {
        "G_star": {"W": [[s_star]], "u": [0.0]},
        "D_star": {"slope_sign": slope, "form": "D(x) = slope_sign·|x| (constant when 0)"},
        "value": value,
        "divergence": divergence,
        "discriminator_best_response_value": disc_best,
        "generator_best_response": {"W": [[w]], "u": [u], "value": gen_min},
        "nash_gap_generator": value - gen_min,
        "nash_gap_discriminator": disc_best - value,
        "stackelberg_value": stackelberg,
        "lambda_theorem": None,
        "theorem3": {
            "inf_alpha_sq": theorem3_eta(setting),
            "note": "α²(x) = |x − T(x)| = |x|·|1 − s*/σ| vanishes at x = 0, so Theorem 3 certifies no λ > 0 "
            "here (and its convexity hypothesis on {α_θ∇D^θ} fails for this family)",
        },
        "proximal": proximal,
    }


def nash_gaps(setting: Setting, sigmas: np.ndarray, s_star: np.ndarray):
    """Batched over σ: (V(G*, D*), min_G V(G, D*), max_D V(G*, D) = W₁) with G* = s*·z at each σ."""
    slope = np.sign(sigmas - s_star)
    value = nash_value(sigmas, slope, s_star, 0.0)
    gen_min = generator_min(setting, sigmas, np.inf)[0]
    best = proximal_value(sigmas, slope, 0.0, s_star, 0.0)
    return value, gen_min, best


def deviation_values(setting: Setting, result: dict, Ws: list, us: list) -> tuple[np.ndarray, np.ndarray]:
    """V(G, D*) against the frozen D* of ``result``, and max_D V(G, D) = W₁, at each G = (W, u)."""
    w, u = np.array([W[0, 0] for W in Ws]), np.array([u[0] for u in us])
    return nash_value(setting.sigma, result["D_star"]["slope_sign"], w, u), wasserstein1(setting.sigma, w, u)
